{{- if .Values.customRules }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-rules
  namespace: {{ .Release.Namespace }}
  labels:
    app.kubernetes.io/name: falco
    app.kubernetes.io/instance: {{ .Release.Name }}
data:
{{- range $file, $content := .Values.customRules }}
  {{ $file }}: |-
{{ $content | indent 4 }}
{{- end }}
{{- end }}
