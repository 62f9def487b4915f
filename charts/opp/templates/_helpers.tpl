{{/* Names, labels and the pieces the Deployment and the migration Job share. */}}

{{- define "opp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "opp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "opp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "opp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "opp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "opp.labels" -}}
helm.sh/chart: {{ include "opp.chart" . }}
{{ include "opp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "opp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "opp.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "opp.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Where the ConfigMap's gateway.yaml is mounted (read-only) and the writable paths. */}}
{{- define "opp.configDir" -}}/etc/opp{{- end -}}
{{- define "opp.configPath" -}}{{ include "opp.configDir" . }}/gateway.yaml{{- end -}}
{{- define "opp.dataDir" -}}/var/lib/opp{{- end -}}

{{/* More than one gateway process may serve at once (replicas or an autoscaler). */}}
{{- define "opp.scaledOut" -}}
{{- if or (gt (int .Values.replicaCount) 1) (and .Values.autoscaling.enabled (gt (int .Values.autoscaling.maxReplicas) 1)) -}}true{{- end -}}
{{- end -}}

{{/* The Secret a reference reads from: its own existingSecret, else secrets.existingSecret. */}}
{{- define "opp.secretName" -}}
{{- default .root.Values.secrets.existingSecret .ref.existingSecret -}}
{{- end -}}

{{/* gateway.yaml: `config` plus the sections the chart owns (store, redis, public_url, bootstrap token). */}}
{{- define "opp.gatewayConfig" -}}
{{- $cfg := deepCopy (.Values.config | default dict) -}}
{{- $_ := set $cfg "version" 1 -}}
{{- if .Values.publicUrl -}}
{{- $gateway := deepCopy (index $cfg "gateway" | default dict) -}}
{{- $_ := set $gateway "public_url" .Values.publicUrl -}}
{{- $_ := set $cfg "gateway" $gateway -}}
{{- end -}}
{{- $store := dict "kind" .Values.store.kind -}}
{{- if eq .Values.store.kind "postgres" -}}
{{- $_ := set $store "url_env" .Values.store.database.env -}}
{{- else if eq .Values.store.kind "sqlite" -}}
{{- $_ := set $store "path" .Values.store.sqlite.path -}}
{{- end -}}
{{- $_ := set $cfg "store" (merge $store (deepCopy .Values.store.settings)) -}}
{{- if .Values.redis.enabled -}}
{{- $_ := set $cfg "redis" (merge (dict "url_env" .Values.redis.url.env) (deepCopy .Values.redis.settings)) -}}
{{- end -}}
{{- if .Values.admin.bootstrapToken.enabled -}}
{{- $admin := deepCopy (index $cfg "admin" | default dict) -}}
{{- $_ := set $admin "bootstrap_token_env" .Values.admin.bootstrapToken.env -}}
{{- $_ := set $cfg "admin" $admin -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* The container environment: secrets by reference only, then plain variables. */}}
{{- define "opp.env" -}}
- name: PYTHONUNBUFFERED
  value: "1"
{{- if eq .Values.store.kind "postgres" }}
- name: {{ .Values.store.database.env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "opp.secretName" (dict "root" . "ref" .Values.store.database) }}
      key: {{ .Values.store.database.key }}
{{- end }}
{{- if .Values.redis.enabled }}
- name: {{ .Values.redis.url.env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "opp.secretName" (dict "root" . "ref" .Values.redis.url) }}
      key: {{ .Values.redis.url.key }}
{{- end }}
{{- if .Values.admin.bootstrapToken.enabled }}
- name: {{ .Values.admin.bootstrapToken.env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "opp.secretName" (dict "root" . "ref" .Values.admin.bootstrapToken) }}
      key: {{ .Values.admin.bootstrapToken.key }}
{{- end }}
{{- range .Values.secretEnv }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "opp.secretName" (dict "root" $ "ref" .) }}
      key: {{ .key }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Volumes both workloads mount: the config (read-only), /tmp and the data directory. */}}
{{- define "opp.volumes" -}}
- name: config
  configMap:
    name: {{ .configMap }}
- name: tmp
  emptyDir:
    sizeLimit: {{ .root.Values.tmpSizeLimit }}
- name: data
{{- if and (eq .root.Values.store.kind "sqlite") .root.Values.store.sqlite.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ .root.Values.store.sqlite.existingClaim }}
{{- else }}
  emptyDir: {}
{{- end }}
{{- with .root.Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "opp.volumeMounts" -}}
- name: config
  mountPath: {{ include "opp.configDir" . }}
  readOnly: true
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: {{ include "opp.dataDir" . }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}
