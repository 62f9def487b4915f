{{/*
opp.validate: stop `helm install`/`helm upgrade` with one readable message listing every pair of
values that contradict each other. values.schema.json has already rejected wrong types and unknown
keys; these are the rules a schema cannot express. Rendered (empty) by templates/validate.yaml.
*/}}
{{- define "opp.validate" -}}
{{- $errors := list -}}
{{- $config := .Values.config | default dict -}}
{{- $kind := .Values.store.kind -}}
{{- $replicas := int .Values.replicaCount -}}
{{- if .Values.autoscaling.enabled -}}{{- $replicas = int .Values.autoscaling.maxReplicas -}}{{- end -}}
{{- $scaledOut := include "opp.scaledOut" . -}}

{{- if and $scaledOut (ne $kind "postgres") -}}
{{- $errors = append $errors (printf "store.kind=%s keeps its records inside one pod, so %d replicas would each have a store of their own: use store.kind=postgres, or replicaCount=1 without autoscaling." $kind $replicas) -}}
{{- end -}}
{{- if and (eq $kind "memory") (gt (int .Values.workers) 1) -}}
{{- $errors = append $errors (printf "store.kind=memory keeps its records inside one process, so workers=%d would each have a store of their own: set workers=1." (int .Values.workers)) -}}
{{- end -}}
{{- if and $scaledOut (not .Values.redis.enabled) -}}
{{- $errors = append $errors (printf "%d replicas share the DPoP replay cache and the rate-limit counters only through Redis: set redis.enabled=true (with the redis-url key in the Secret), or replicaCount=1 without autoscaling." $replicas) -}}
{{- end -}}
{{- $oauth := index $config "oauth" | default dict -}}
{{- if and (index $oauth "enabled") (not .Values.publicUrl) -}}
{{- $errors = append $errors "config.oauth.enabled=true needs publicUrl: the origin clients use (e.g. https://opp.example.com) is the token audience and the DPoP htu; unset, it follows --host/--port (http://0.0.0.0:8080 in the pod), which no client uses." -}}
{{- end -}}
{{- if hasKey $config "store" -}}
{{- $errors = append $errors "config.store is written by the chart: set store.kind, store.database.* or store.sqlite.* (and store.settings) instead." -}}
{{- end -}}
{{- if hasKey $config "redis" -}}
{{- $errors = append $errors "config.redis is written by the chart: set redis.enabled, redis.url.* (and redis.settings) instead." -}}
{{- end -}}
{{- if hasKey (index $config "gateway" | default dict) "public_url" -}}
{{- $errors = append $errors "config.gateway.public_url is written by the chart: set publicUrl instead." -}}
{{- end -}}
{{- if and (eq $kind "postgres") (not (include "opp.secretName" (dict "root" . "ref" .Values.store.database))) -}}
{{- $errors = append $errors "store.kind=postgres reads the database URL from a Secret: set secrets.existingSecret or store.database.existingSecret." -}}
{{- end -}}
{{- if and .Values.redis.enabled (not (include "opp.secretName" (dict "root" . "ref" .Values.redis.url))) -}}
{{- $errors = append $errors "redis.enabled=true reads the Redis URL from a Secret: set secrets.existingSecret or redis.url.existingSecret." -}}
{{- end -}}
{{- range .Values.secretEnv -}}
{{- if not (include "opp.secretName" (dict "root" $ "ref" .)) -}}
{{- $errors = append $errors (printf "secretEnv %s names no Secret: set its existingSecret or secrets.existingSecret." .name) -}}
{{- end -}}
{{- end -}}
{{- /* server.shutdown_timeout (default 30s): how long opp lets in-flight requests finish after SIGTERM. */ -}}
{{- $shutdown := "30s" -}}
{{- with (index $config "server" | default dict) -}}{{- $shutdown = index . "shutdown_timeout" | default "30s" | toString -}}{{- end -}}
{{- $amount := int (regexFind "^[0-9]+" $shutdown) -}}
{{- $unit := regexFind "[a-z]+$" $shutdown -}}
{{- $shutdownSeconds := $amount -}}
{{- if eq $unit "ms" -}}{{- $shutdownSeconds = div (add $amount 999) 1000 -}}
{{- else if eq $unit "m" -}}{{- $shutdownSeconds = mul $amount 60 -}}
{{- else if eq $unit "h" -}}{{- $shutdownSeconds = mul $amount 3600 -}}
{{- end -}}
{{- $grace := int .Values.terminationGracePeriodSeconds -}}
{{- if le $grace (add (int .Values.drainSeconds) $shutdownSeconds) -}}
{{- $errors = append $errors (printf "terminationGracePeriodSeconds=%d must be longer than drainSeconds=%d plus server.shutdown_timeout=%s, or pods are killed while requests are still draining." $grace (int .Values.drainSeconds) $shutdown) -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- $errors = append $errors (printf "autoscaling.minReplicas=%d is more than autoscaling.maxReplicas=%d." (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- end -}}
{{- $observability := index $config "observability" | default dict -}}
{{- if and .Values.metrics.serviceMonitor.enabled (hasKey $observability "metrics") (not (index $observability "metrics")) -}}
{{- $errors = append $errors "metrics.serviceMonitor.enabled=true but config.observability.metrics=false: there would be no /metrics to scrape." -}}
{{- end -}}
{{- range $name, $backend := (index $config "backends" | default dict) -}}
{{- range $header, $value := (index $backend "headers" | default dict) -}}
{{- if and (regexMatch "(?i)authorization|token|secret|api-?key|cookie|password" $header) (not (contains "${" (toString $value))) -}}
{{- $errors = append $errors (printf "config.backends.%s.headers.%s is a literal value in a ConfigMap: put it in a Secret, wire it with secretEnv and write ${VARIABLE} in the header." $name $header) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if $errors -}}
{{- fail (printf "\n\nopp: these values contradict each other:\n  - %s\n" (join "\n  - " $errors)) -}}
{{- end -}}
{{- end -}}
