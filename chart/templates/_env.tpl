{{/*
One service's container: its effective settings (serviceDefaults under services.<key>), its image, and the env the
runtime reads (chart/README.md, "Environment given to the runtime", is the same list).
*/}}

{{/* Effective settings of one service: serviceDefaults deep-merged with services.<key>. Returns YAML. */}}
{{- define "ke.serviceConfig" -}}
{{- $svc := get .ctx.Values.services .key -}}
{{- toYaml (mergeOverwrite (deepCopy .ctx.Values.serviceDefaults) (deepCopy $svc)) -}}
{{- end -}}

{{/* Image reference: registry/repository:tag[@digest], per-service override. (dict "ctx" $ "image" svcImage) */}}
{{- define "ke.image" -}}
{{- $img := mergeOverwrite (deepCopy .ctx.Values.image) (deepCopy (default (dict) .image)) -}}
{{- $repo := $img.repository -}}
{{- if $img.registry }}{{ $repo = printf "%s/%s" $img.registry $img.repository }}{{ end -}}
{{- $tag := default .ctx.Chart.AppVersion (toString (default "" $img.tag)) -}}
{{- if $img.digest -}}
{{- printf "%s:%s@%s" $repo $tag $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}
{{- end -}}

{{- define "ke.imagePullPolicy" -}}
{{- $img := mergeOverwrite (deepCopy .ctx.Values.image) (deepCopy (default (dict) .image)) -}}
{{- $img.pullPolicy -}}
{{- end -}}

{{/* public | cluster-local: handlers are public unless told otherwise, the rest cluster-local. (serviceConfig) */}}
{{- define "ke.visibility" -}}
{{- default (ternary "public" "cluster-local" (eq (toString .role) "handler")) .visibility -}}
{{- end -}}

{{/*
One env entry (YAML: {valueFrom: ...} or {value: "secret:NAME"}) from {existingSecret, key, vaultSecret}:
a Kubernetes Secret key, or a secret the runtime loads from Vault (its secret:NAME reference,
runtime/secrets/references.ts). Never a literal. (dict "ctx" $ "cfg" serviceConfig "ref" map "at" "path"
["defaultSecret" name] "defaultKey" key)
*/}}
{{- define "ke.secretEnv" -}}
{{- $r := default (dict) .ref -}}
{{- if and $r.existingSecret $r.vaultSecret -}}
{{- fail (printf "%s: set existingSecret or vaultSecret, not both" .at) -}}
{{- end -}}
{{- if $r.vaultSecret -}}
{{- if not (include "ke.vaultOn" (dict "ctx" .ctx "cfg" .cfg)) -}}
{{- fail (printf "%s.vaultSecret: the runtime loads it from Vault, but Vault is off for this service (set vault.mode, or use existingSecret)" .at) -}}
{{- end -}}
value: {{ printf "secret:%s" $r.vaultSecret | quote }}
{{- else -}}
{{- $name := default .defaultSecret $r.existingSecret -}}
{{- if not $name }}{{ fail (printf "%s.existingSecret: required (or vaultSecret)" .at) }}{{ end -}}
valueFrom:
  secretKeyRef:
    name: {{ $name }}
    key: {{ default .defaultKey $r.key }}
{{- end -}}
{{- end -}}

{{/* The metrics token Secret name, "" when none. */}}
{{- define "ke.metricsTokenSecret" -}}
{{- dig "token" "existingSecret" "" .Values.metrics -}}
{{- end -}}

{{/* "true" when a service serves /metrics: every service with a token, else only cluster-local ones. (dict "ctx" $ "cfg" serviceConfig) */}}
{{- define "ke.metricsOn" -}}
{{- if or (include "ke.metricsTokenSecret" .ctx) (eq (include "ke.visibility" .cfg) "cluster-local") -}}true{{- end -}}
{{- end -}}

{{/*
METRICS_* env (YAML map of entries). A public service's /metrics is reachable from the internet through Knative's
ingress, so it is served only behind METRICS_TOKEN; without metrics.token, public services turn metrics off.
*/}}
{{- define "ke.metricsEnv" -}}
{{- $secret := include "ke.metricsTokenSecret" .ctx -}}
METRICS_PATH:
  value: {{ .ctx.Values.metrics.path | quote }}
{{- if $secret }}
METRICS_TOKEN:
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ dig "token" "key" "token" .ctx.Values.metrics }}
{{- else if not (include "ke.metricsOn" .) }}
METRICS_ENABLED:
  value: "false"
{{- end }}
{{- end -}}

{{/*
The container env, merged by name: chart contract first, then services.<name>.env (map), then extraEnv (list).
(dict "ctx" $ "key" "x" "cfg" serviceConfig)
*/}}
{{- define "ke.env" -}}
{{- $ctx := .ctx -}}
{{- $cfg := .cfg -}}
{{- $at := printf "services.%s" .key -}}
{{- $env := dict -}}
{{- $role := toString $cfg.role -}}
{{- $_ := set $env "ROLE" (dict "value" $role) -}}
{{- $_ := set $env "LOG_LEVEL" (dict "value" (default $ctx.Values.logLevel $cfg.logLevel)) -}}
{{- /* Every role: one outbound call's overall deadline, and the request-body memory budget (ke.validateEnv checks both against timeoutSeconds and resources.limits.memory). */ -}}
{{- $_ := set $env "OUTBOUND_DEADLINE_MS" (dict "value" (toString (int (ternary $cfg.outboundDeadlineMs 25000 (hasKey $cfg "outboundDeadlineMs"))))) -}}
{{- $budget := ternary $cfg.memoryBudgetBytes "auto" (hasKey $cfg "memoryBudgetBytes") -}}
{{- $_ := set $env "MEMORY_BUDGET_BYTES" (dict "value" (ternary $budget (toString (int64 $budget)) (kindIs "string" $budget))) -}}
{{- /* The probes' own listener (runtime/probe-server.ts); service.yaml points the readiness probe at it. */ -}}
{{- with $cfg.probePort }}{{ $_ := set $env "PROBE_PORT" (dict "value" (toString (int .))) }}{{ end -}}
{{- include "ke.handlerAuthEnv" (dict "env" $env "cfg" $cfg "role" $role "at" $at) -}}
{{- if has $role (list "subscriber" "sink-forwarder") -}}
{{- if not $cfg.function }}{{ fail (printf "%s.function: required for role %s" $at $role) }}{{ end -}}
{{- $_ := set $env "FUNCTION" (dict "value" $cfg.function) -}}
{{- else if $cfg.function -}}
{{- fail (printf "%s.function: only subscriber and sink-forwarder run a function (role is %s)" $at $role) -}}
{{- end -}}
{{- /*
Both broker classes fail a delivery whose 2xx body is not a CloudEvent (channel broker: eventing
pkg/broker/filter/filter_handler.go; Kafka broker: knative/eventing#6950), and a Trigger may also point at a
broker the chart does not render: behind any broker, plain results are dropped (204).
*/ -}}
{{- if eq $role "subscriber" -}}
{{- $_ := set $env "SUBSCRIBER_PLAIN_RESULT" (dict "value" "discard") -}}
{{- end -}}
{{- $metrics := include "ke.metricsEnv" (dict "ctx" $ctx "cfg" $cfg) | fromYaml -}}
{{- range $k, $v := $metrics }}{{ $_ := set $env $k $v }}{{ end -}}
{{- /* OTEL_* for tracing (runtime/tracing): on every service when tracing.endpoint is set, off (not loaded) otherwise. */ -}}
{{- $tracing := default (dict) $ctx.Values.tracing -}}
{{- if $tracing.endpoint -}}
{{- $_ := set $env "OTEL_EXPORTER_OTLP_ENDPOINT" (dict "value" $tracing.endpoint) -}}
{{- $_ := set $env "OTEL_TRACES_SAMPLER" (dict "value" "parentbased_traceidratio") -}}
{{- $_ := set $env "OTEL_TRACES_SAMPLER_ARG" (dict "value" (toString (ternary $tracing.sampleRatio 1 (hasKey $tracing "sampleRatio")))) -}}
{{- $headers := default (dict) $tracing.headers -}}
{{- if $headers.existingSecret -}}
{{- $_ := set $env "OTEL_EXPORTER_OTLP_HEADERS" (dict "valueFrom" (dict "secretKeyRef" (dict "name" $headers.existingSecret "key" (default "headers" $headers.key)))) -}}
{{- end -}}
{{- end -}}
{{- if and $cfg.sink (ne $role "sink-forwarder") -}}
{{- fail (printf "%s.sink: only a sink-forwarder writes to a KafkaSink (role is %s; a dlq uses dlq.sink)" $at $role) -}}
{{- end -}}
{{- if and $cfg.dlq (ne $role "dlq") -}}
{{- fail (printf "%s.dlq: only valid for role dlq (role is %s)" $at $role) -}}
{{- end -}}
{{- if has $role (list "handler" "dlq") -}}
{{- $_ := set $env "BROKER_URL" (dict "value" (include "ke.brokerUrl" $ctx)) -}}
{{- end -}}
{{- if eq $role "sink-forwarder" -}}
{{- if not $cfg.sink }}{{ fail (printf "%s.sink: required for role sink-forwarder (a key of kafkaSinks)" $at) }}{{ end -}}
{{- $s := dict "ctx" $ctx "key" $cfg.sink "at" (printf "%s.sink" $at) -}}
{{- $_ := set $env "KAFKA_SINK_URL" (dict "value" (include "ke.kafkaSinkUrl" $s)) -}}
{{- $_ := set $env "SINK_CONTENT_MODE" (dict "value" (include "ke.kafkaSinkContentMode" $s)) -}}
{{- with $cfg.sinkEventType }}{{ $_ := set $env "SINK_EVENT_TYPE" (dict "value" .) }}{{ end -}}
{{- with $cfg.sinkEventSource }}{{ $_ := set $env "SINK_EVENT_SOURCE" (dict "value" .) }}{{ end -}}
{{- with $cfg.sinkPartitionKey }}{{ $_ := set $env "SINK_PARTITION_KEY" (dict "value" .) }}{{ end -}}
{{- else if or $cfg.sinkEventType $cfg.sinkEventSource $cfg.sinkPartitionKey -}}
{{- fail (printf "%s.sinkEventType/sinkEventSource/sinkPartitionKey: only valid for role sink-forwarder (role is %s)" $at $role) -}}
{{- end -}}
{{- if eq $role "dlq" -}}
{{- $dlq := default (dict) $cfg.dlq -}}
{{- $store := default "postgres" $dlq.store -}}
{{- $_ := set $env "DLQ_STORE" (dict "value" $store) -}}
{{- if eq $store "postgres" -}}
{{- $db := default (dict) $dlq.database -}}
{{- $_ := set $env "DLQ_DATABASE_URL" (include "ke.secretEnv" (dict "ctx" $ctx "cfg" $cfg "ref" $db "at" (printf "%s.dlq.database" $at) "defaultSecret" (include "ke.childName" (dict "ctx" $ctx "key" "dlq-database")) "defaultKey" "url") | fromYaml) -}}
{{- else if eq $store "file" -}}
{{- $_ := set $env "DLQ_FILE" (dict "value" (default "/data/dead-letters.jsonl" $dlq.file)) -}}
{{- else -}}
{{- if not $dlq.sink }}{{ fail (printf "%s.dlq.sink: required when dlq.store is kafka-sink (a key of kafkaSinks)" $at) }}{{ end -}}
{{- $s := dict "ctx" $ctx "key" $dlq.sink "at" (printf "%s.dlq.sink" $at) -}}
{{- $_ := set $env "KAFKA_SINK_URL" (dict "value" (include "ke.kafkaSinkUrl" $s)) -}}
{{- $_ := set $env "SINK_CONTENT_MODE" (dict "value" (include "ke.kafkaSinkContentMode" $s)) -}}
{{- end -}}
{{- if not (eq (toString (default "" $dlq.retentionDays)) "") -}}
{{- if ne $store "postgres" }}{{ fail (printf "%s.dlq.retentionDays: only the postgres store deletes old dead letters (store is %s)" $at $store) }}{{ end -}}
{{- $_ := set $env "DLQ_RETENTION_DAYS" (dict "value" (toString $dlq.retentionDays)) -}}
{{- end -}}
{{- $tok := default (dict) $dlq.adminToken -}}
{{- if or $tok.existingSecret $tok.vaultSecret -}}
{{- $_ := set $env "DLQ_ADMIN_TOKEN" (include "ke.secretEnv" (dict "ctx" $ctx "cfg" $cfg "ref" $tok "at" (printf "%s.dlq.adminToken" $at) "defaultKey" "token") | fromYaml) -}}
{{- end -}}
{{- include "ke.dlqReplayEnv" (dict "env" $env "dlq" $dlq "at" $at) -}}
{{- end -}}
{{- $mode := include "ke.vaultMode" $ctx -}}
{{- if include "ke.vaultOn" (dict "ctx" $ctx "cfg" $cfg) -}}
{{- $v := $ctx.Values.vault -}}
{{- if eq $mode "agent" -}}
{{- $_ := set $env "VAULT_SECRETS_DIR" (dict "value" $v.agent.secretVolumePath) -}}
{{- else if eq $mode "direct" -}}
{{- if not $v.address }}{{ fail "vault.address: required when vault.mode is direct" }}{{ end -}}
{{- if not $v.role }}{{ fail "vault.role: required when vault.mode is direct" }}{{ end -}}
{{- $secrets := include "ke.vaultSecrets" (dict "ctx" $ctx "cfg" $cfg) | fromYaml -}}
{{- if not $secrets }}{{ fail (printf "vault.secrets: at least one secret is required when vault.mode is direct (or set %s.vault.enabled: false)" $at) }}{{ end -}}
{{- $paths := list -}}
{{- range $file, $s := $secrets }}{{ $paths = append $paths ((kindIs "map" $s) | ternary (get (default (dict) $s) "path") $s) }}{{ end -}}
{{- $_ := set $env "VAULT_ADDR" (dict "value" $v.address) -}}
{{- $_ := set $env "VAULT_ROLE" (dict "value" $v.role) -}}
{{- $_ := set $env "VAULT_AUTH_PATH" (dict "value" $v.authPath) -}}
{{- $_ := set $env "VAULT_SECRET_PATHS" (dict "value" (join "," $paths)) -}}
{{- $_ := set $env "VAULT_KV_VERSION" (dict "value" (toString $v.kvVersion)) -}}
{{- with $v.caCert }}{{ $_ := set $env "VAULT_CACERT" (dict "value" .) }}{{ end -}}
{{- with $v.namespace }}{{ $_ := set $env "VAULT_NAMESPACE" (dict "value" .) }}{{ end -}}
{{- if eq (toString $v.tlsSkipVerify) "true" }}{{ $_ := set $env "VAULT_SKIP_VERIFY" (dict "value" "true") }}{{ end -}}
{{- end -}}
{{- end -}}
{{- range $name, $val := (default (dict) $cfg.env) -}}
{{- if has $name (list "ROLE" "FUNCTION" "PORT") }}{{ fail (printf "%s.env.%s: set by the chart (use %s.role / .function; Knative sets PORT)" $at $name $at) }}{{ end -}}
{{- if kindIs "map" $val -}}
{{- $_ := set $env $name (deepCopy $val) -}}
{{- else -}}
{{- $_ := set $env $name (dict "value" (toString $val)) -}}
{{- end -}}
{{- end -}}
{{- range $i, $e := (default (list) $cfg.extraEnv) -}}
{{- if has $e.name (list "ROLE" "FUNCTION" "PORT") }}{{ fail (printf "%s.extraEnv[%d]: %s is set by the chart" $at $i $e.name) }}{{ end -}}
{{- $_ := set $env $e.name (omit $e "name") -}}
{{- end -}}
{{- include "ke.validateEnv" (dict "env" $env "cfg" $cfg "at" $at) -}}
{{- range $name, $e := $env }}
- name: {{ $name }}
{{- if hasKey $e "valueFrom" }}
  valueFrom:
    {{- toYaml $e.valueFrom | nindent 4 }}
{{- else }}
  value: {{ toString $e.value | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
HANDLER_AUTH* from services.<name>.auth (handlers only; README.md, "Who may call the handler"). HANDLER_AUTH is
always rendered; the secret name unless off; the window, clock skew and replay capacity with hmac. An unquoted
`off` (YAML false) also means off. Sets into .env. (dict "env" envMap "cfg" serviceConfig "role" role "at" path)
*/}}
{{- define "ke.handlerAuthEnv" -}}
{{- $a := default (dict) .cfg.auth -}}
{{- if and .cfg.auth (ne .role "handler") -}}
{{- fail (printf "%s.auth: only a handler checks its callers (role is %s)" .at .role) -}}
{{- end -}}
{{- if eq .role "handler" -}}
{{- $mode := "off" -}}
{{- if and $a.mode (not (kindIs "bool" $a.mode)) }}{{ $mode = toString $a.mode }}{{ end -}}
{{- $_ := set .env "HANDLER_AUTH" (dict "value" $mode) -}}
{{- if ne $mode "off" -}}
{{- $_ := set .env "HANDLER_AUTH_SECRET" (dict "value" (default "HANDLER_AUTH_KEYS" $a.secret)) -}}
{{- end -}}
{{- if eq $mode "hmac" -}}
{{- $_ := set .env "HANDLER_AUTH_WINDOW_SECONDS" (dict "value" (toString (int (default 300 $a.windowSeconds)))) -}}
{{- $_ := set .env "HANDLER_AUTH_FUTURE_SKEW_SECONDS" (dict "value" (toString (int (ternary $a.futureSkewSeconds 5 (hasKey $a "futureSkewSeconds"))))) -}}
{{- $_ := set .env "HANDLER_AUTH_REPLAY_CAPACITY" (dict "value" (toString (int (default 200000 $a.replayCapacity)))) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
DLQ_REPLAY_* from services.<name>.dlq.replay (runtime/config/dlq.ts): the allow-list for to=<url>, the default
and highest rate of a bulk job. Sets into .env. (dict "env" envMap "dlq" dlqValues "at" path)
*/}}
{{- define "ke.dlqReplayEnv" -}}
{{- $r := default (dict) .dlq.replay -}}
{{- $rate := int (default 50 $r.rate) -}}
{{- $rateMax := int (default 500 $r.rateMax) -}}
{{- if gt $rate $rateMax -}}
{{- fail (printf "%s.dlq.replay.rate: %d is above %s.dlq.replay.rateMax %d (the runtime refuses DLQ_REPLAY_RATE above DLQ_REPLAY_RATE_MAX); lower rate or raise rateMax" .at $rate .at $rateMax) -}}
{{- end -}}
{{- $_ := set .env "DLQ_REPLAY_RATE" (dict "value" (toString $rate)) -}}
{{- $_ := set .env "DLQ_REPLAY_RATE_MAX" (dict "value" (toString $rateMax)) -}}
{{- with $r.targets -}}
{{- $_ := set $.env "DLQ_REPLAY_TARGETS" (dict "value" (join "," .)) -}}
{{- end -}}
{{- end -}}
