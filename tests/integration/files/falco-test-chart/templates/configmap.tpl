apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
  labels:
    app.kubernetes.io/name: falco
    app.kubernetes.io/instance: {{ .Release.Name }}
data:
  falco.yaml: |-
{{- $engine := dict "engine" (dict "kind" .Values.driver.kind) }}
{{ toYaml (merge (deepCopy .Values.falco) $engine) | indent 4 }}
