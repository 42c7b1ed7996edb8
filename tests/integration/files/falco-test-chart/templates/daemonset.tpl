apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
  labels:
    app.kubernetes.io/name: falco
    app.kubernetes.io/instance: {{ .Release.Name }}
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: falco
      app.kubernetes.io/instance: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: falco
        app.kubernetes.io/instance: {{ .Release.Name }}
    spec:
      {{- if .Values.falcoctl.artifact.install.enabled }}
      initContainers:
        - name: falcoctl-artifact-install
          image: docker.io/falcosecurity/falcoctl:stand-in
          args: [artifact, install]
      {{- end }}
      containers:
        - name: falco
          image: "{{ .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          args: [/usr/bin/falco, -o, "engine.kind={{ .Values.driver.kind }}"]
          env:
            - name: FALCO_DRIVER_KIND
              value: {{ .Values.driver.kind | quote }}
          volumeMounts:
            - name: falco-yaml
              mountPath: /etc/falco/falco.yaml
              subPath: falco.yaml
            {{- if .Values.customRules }}
            - name: rules-volume
              mountPath: /etc/falco/rules.d
            {{- end }}
        {{- if .Values.falcoctl.artifact.follow.enabled }}
        - name: falcoctl-artifact-follow
          image: docker.io/falcosecurity/falcoctl:stand-in
          args: [artifact, follow]
        {{- end }}
      volumes:
        - name: falco-yaml
          configMap:
            name: {{ .Release.Name }}
        {{- if .Values.customRules }}
        - name: rules-volume
          configMap:
            name: {{ .Release.Name }}-rules
        {{- end }}
