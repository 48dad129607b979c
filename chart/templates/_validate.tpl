{{/*
What the render refuses beyond values.schema.json. Most of it is what a stock Knative cluster's admission webhooks
refuse, refused here at render instead: a failed `helm install` names the value to fix, where the webhook would fail
the release halfway with an API error. Each rule names the upstream file it mirrors (Knative 1.17); chart/README.md,
"Knative rules the chart mirrors", is the same list, and test/chart/knative-rules.ts checks the rendered objects
against it. A cluster that enables a feature flag says so under cluster.features. Reference checks (a name that is
not rendered) are in _destinations.tpl, next to the references.
*/}}

{{- define "ke.validateGlobal" -}}
{{- $port := int .Values.containerPort -}}
{{- /* Ports Knative Serving keeps for its queue-proxy and profiling (serving pkg/apis/serving/k8s_validation.go reservedPorts). */ -}}
{{- if has $port (list 8008 8012 8013 8022 9090 9091) -}}
{{- fail (printf "containerPort: %d is reserved by Knative Serving for its queue-proxy (8008, 8012, 8013, 8022, 9090, 9091 are refused; serving pkg/apis/serving/k8s_validation.go): use another port, e.g. 8080" $port) -}}
{{- end -}}
{{- end -}}

{{/* One Knative Service's values against the Serving webhook. (dict "ctx" $ "cfg" serviceConfig "at" "services.x") */}}
{{- define "ke.validateService" -}}
{{- $ctx := .ctx -}}
{{- $cfg := .cfg -}}
{{- $at := .at -}}
{{- $f := default (dict) $ctx.Values.cluster.features -}}
{{- $as := default (dict) $cfg.autoscaling -}}
{{- /* serving pkg/apis/autoscaling/annotation_validation.go validateInitialScale */ -}}
{{- if and (eq (toString $as.initialScale) "0") (not $f.allowZeroInitialScale) -}}
{{- fail (printf "%s.autoscaling.initialScale: 0 is refused by Knative Serving unless config-autoscaler allow-zero-initial-scale is \"true\" (off by default; serving pkg/apis/autoscaling/annotation_validation.go). Remove it (the revision then starts with 1 pod and can still scale to zero with minScale 0), or set cluster.features.allowZeroInitialScale: true if your cluster enables it" $at) -}}
{{- end -}}
{{- /* validateMetric: the KPA (the default class) scales on concurrency or rps only; cpu and memory need the HPA. */ -}}
{{- $metric := toString (default "" $as.metric) -}}
{{- $class := default "kpa.autoscaling.knative.dev" $as.class -}}
{{- if and (has $metric (list "cpu" "memory")) (eq $class "kpa.autoscaling.knative.dev") -}}
{{- fail (printf "%s.autoscaling.metric: %s needs autoscaling.class hpa.autoscaling.knative.dev; the default KPA class scales on concurrency or rps only (serving pkg/apis/autoscaling/annotation_validation.go validateMetric)" $at $metric) -}}
{{- end -}}
{{- /* validateMinMaxScale: max-scale (0 = unlimited) below min-scale is refused. */ -}}
{{- $min := toString (default "" $as.minScale) -}}
{{- $max := toString (default "" $as.maxScale) -}}
{{- if and (ne $min "") (ne $max "") (ne $max "0") (lt (int $max) (int $min)) -}}
{{- fail (printf "%s.autoscaling.maxScale: %s is less than minScale %s (serving pkg/apis/autoscaling/annotation_validation.go validateMinMaxScale)" $at $max $min) -}}
{{- end -}}
{{- /* validateWindow, validateScaleDownDelay: window 6s..1h, scale-down-delay 0..1h (WindowMin/WindowMax, pkg/apis/autoscaling/register.go) */ -}}
{{- with toString (default "" $as.window) -}}
{{- $s := include "ke.durationSeconds" . | int -}}
{{- if or (lt $s 6) (gt $s 3600) -}}
{{- fail (printf "%s.autoscaling.window: %s is outside 6s..1h, which Knative Serving refuses (serving pkg/apis/autoscaling/annotation_validation.go validateWindow)" $at .) -}}
{{- end -}}
{{- end -}}
{{- with toString (default "" $as.scaleDownDelay) -}}
{{- if gt (include "ke.durationSeconds" . | int) 3600 -}}
{{- fail (printf "%s.autoscaling.scaleDownDelay: %s is above 1h, which Knative Serving refuses (serving pkg/apis/autoscaling/annotation_validation.go validateScaleDownDelay)" $at .) -}}
{{- end -}}
{{- end -}}
{{- /* serving pkg/apis/serving/v1/revision_validation.go validateTimeoutSeconds; default 600 in pkg/apis/config/defaults.go */ -}}
{{- $maxTimeout := int (default 600 $ctx.Values.cluster.maxRevisionTimeoutSeconds) -}}
{{- if gt (int $cfg.timeoutSeconds) $maxTimeout -}}
{{- fail (printf "%s.timeoutSeconds: %d is above the cluster's max-revision-timeout-seconds %d (config-defaults in knative-serving; serving pkg/apis/serving/v1/revision_validation.go). Lower it, or raise cluster.maxRevisionTimeoutSeconds to what your cluster sets" $at (int $cfg.timeoutSeconds) $maxTimeout) -}}
{{- end -}}
{{- /* serving pkg/apis/serving/metadata_validation.go ValidateContainerConcurrency; default 1000 in pkg/apis/config/defaults.go */ -}}
{{- $maxCc := int (default 1000 $ctx.Values.cluster.containerConcurrencyMaxLimit) -}}
{{- if gt (int $cfg.containerConcurrency) $maxCc -}}
{{- fail (printf "%s.containerConcurrency: %d is above the cluster's container-concurrency-max-limit %d (config-defaults in knative-serving; serving pkg/apis/serving/metadata_validation.go). Lower it (0 = unlimited), or raise cluster.containerConcurrencyMaxLimit to what your cluster sets" $at (int $cfg.containerConcurrency) $maxCc) -}}
{{- end -}}
{{- /* serving pkg/apis/serving/k8s_validation.go validatePersistentVolumeClaims */ -}}
{{- $writable := list -}}
{{- range $i, $v := (default (list) $cfg.volumes) -}}
{{- with $v.persistentVolumeClaim -}}
{{- include "ke.validatePvc" (dict "ctx" $ctx "at" (printf "%s.volumes[%d]" $at $i) "readOnly" .readOnly) -}}
{{- end -}}
{{- if or (hasKey $v "emptyDir") (hasKey $v "persistentVolumeClaim") (hasKey $v "ephemeral") }}{{ $writable = append $writable $v.name }}{{ end -}}
{{- end -}}
{{- /* validateVolumeMounts: a mount of any other kind of volume (secret, configMap, projected) must be readOnly. */ -}}
{{- range $i, $m := (default (list) $cfg.volumeMounts) -}}
{{- if and (not (has $m.name $writable)) (not $m.readOnly) -}}
{{- fail (printf "%s.volumeMounts[%d]: %q must be readOnly: true; Knative Serving refuses writable mounts of volumes other than emptyDir, persistentVolumeClaim and ephemeral (serving pkg/apis/serving/k8s_validation.go validateVolumeMounts)" $at $i (toString $m.name)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The env a service ends up with (after env/extraEnv overrides) against what the chart promises: a subscriber never
answers plain JSON (every broker class fails such a delivery), and a public service never serves /metrics without
a token. (dict "env" envMap "cfg" serviceConfig "at" "services.x")
*/}}
{{- define "ke.validateEnv" -}}
{{- $val := dict -}}
{{- range $k, $e := .env }}{{ if hasKey $e "value" }}{{ $_ := set $val $k (toString $e.value) }}{{ end }}{{ end -}}
{{- if and (eq (toString .cfg.role) "subscriber") (ne (get $val "SUBSCRIBER_PLAIN_RESULT") "discard") -}}
{{- fail (printf "%s.env.SUBSCRIBER_PLAIN_RESULT: must stay discard: both broker classes fail a delivery whose 2xx body is not a CloudEvent (eventing pkg/broker/filter/filter_handler.go; knative/eventing#6950), so every plain result would be retried and dead-lettered" .at) -}}
{{- end -}}
{{- if and (eq (include "ke.visibility" .cfg) "public") (not (hasKey .env "METRICS_TOKEN")) (ne (lower (get $val "METRICS_ENABLED")) "false") -}}
{{- fail (printf "%s.env.METRICS_ENABLED: a public service's /metrics is reachable from the internet: set metrics.token.existingSecret (METRICS_TOKEN) to serve it, or leave METRICS_ENABLED to the chart (false)" .at) -}}
{{- end -}}
{{- include "ke.validateDeadlineAndBudget" (dict "val" $val "cfg" .cfg "at" .at) -}}
{{- include "ke.validateProbePort" (dict "val" $val "at" .at) -}}
{{- end -}}

{{/*
PROBE_PORT shares the pod's network with queue-proxy, which listens on 8008, 8012, 8013, 8022, 8112, 9090 and 9091
(Knative's reserved ports), and must differ from the container port (8080; the runtime refuses PORT = PROBE_PORT).
(dict "val" plainEnv "at" path)
*/}}
{{- define "ke.validateProbePort" -}}
{{- $port := toString (get .val "PROBE_PORT") -}}
{{- if has $port (list "8080" "8008" "8012" "8013" "8022" "8112" "9090" "9091") -}}
{{- fail (printf "%s.probePort: %s is taken: 8080 is the container port and 8008, 8012, 8013, 8022, 8112, 9090, 9091 are queue-proxy's in the same pod. Choose another port, or null for probes on the container port" .at $port) -}}
{{- end -}}
{{- end -}}

{{/*
OUTBOUND_DEADLINE_MS below the request timeout: Knative ends the request at timeoutSeconds, so a longer deadline
would let an outbound call (and its retries) outlive the request it serves. MEMORY_BUDGET_BYTES=auto is derived
from the cgroup memory limit (runtime/http/memory-budget.ts): without resources.limits.memory there is none and the
runtime would assume a fixed 256 MiB budget, whatever the node has. (dict "val" plainEnv "cfg" serviceConfig "at" path)
*/}}
{{- define "ke.validateDeadlineAndBudget" -}}
{{- $deadline := toString (get .val "OUTBOUND_DEADLINE_MS") -}}
{{- $timeout := int (default 300 .cfg.timeoutSeconds) -}}
{{- if and (regexMatch "^[0-9]+$" $deadline) (ge (atoi $deadline) (mul $timeout 1000)) -}}
{{- fail (printf "%s.outboundDeadlineMs: %s ms (OUTBOUND_DEADLINE_MS) must be below %s.timeoutSeconds × 1000 = %d ms (timeoutSeconds %d): Knative ends the request first, while an outbound call and its retries still run. Lower outboundDeadlineMs or raise timeoutSeconds" .at $deadline .at (mul $timeout 1000) $timeout) -}}
{{- end -}}
{{- $budget := lower (trim (toString (get .val "MEMORY_BUDGET_BYTES"))) -}}
{{- $limits := default (dict) (default (dict) .cfg.resources).limits -}}
{{- if and (eq $budget "auto") (not $limits.memory) -}}
{{- fail (printf "%s.memoryBudgetBytes: auto (MEMORY_BUDGET_BYTES) is derived from the container's memory limit, but %s.resources.limits.memory is not set (without a cgroup limit the runtime assumes a fixed 256 MiB budget). Set resources.limits.memory (serviceDefaults or the service), or set memoryBudgetBytes to a number of bytes" .at .at) -}}
{{- end -}}
{{- if and (regexMatch "^[0-9]+$" $budget) (lt (atoi $budget) 1048576) -}}
{{- fail (printf "%s.memoryBudgetBytes: %s is below 1048576 (1 MiB), which the runtime refuses (MEMORY_BUDGET_BYTES); use auto or a larger number of bytes" .at $budget) -}}
{{- end -}}
{{- end -}}

{{/* A PVC volume needs kubernetes.podspec-persistent-volume-claim, and -write unless read-only. (dict "ctx" $ "at" path "readOnly" bool) */}}
{{- define "ke.validatePvc" -}}
{{- $f := default (dict) .ctx.Values.cluster.features -}}
{{- if not $f.podspecPersistentVolumeClaim -}}
{{- fail (printf "%s: a persistentVolumeClaim is refused by Knative Serving unless config-features kubernetes.podspec-persistent-volume-claim is enabled (off by default; serving pkg/apis/serving/k8s_validation.go). Enable it on the cluster and set cluster.features.podspecPersistentVolumeClaim: true" .at) -}}
{{- end -}}
{{- if and (not .readOnly) (not $f.podspecPersistentVolumeWrite) -}}
{{- fail (printf "%s: a writable persistentVolumeClaim also needs config-features kubernetes.podspec-persistent-volume-write enabled (off by default; serving pkg/apis/serving/k8s_validation.go). Enable it on the cluster and set cluster.features.podspecPersistentVolumeWrite: true" .at) -}}
{{- end -}}
{{- end -}}

{{/*
The dlq's store. file: one writer on a persistent volume (an emptyDir loses every letter with its pod, and
replicas would each keep their own file); postgres: durable and shared; kafka-sink: write-only.
(dict "ctx" $ "cfg" serviceConfig "at" "services.x")
*/}}
{{- define "ke.validateDlqStore" -}}
{{- $dlq := default (dict) .cfg.dlq -}}
{{- $store := default "postgres" $dlq.store -}}
{{- if eq $store "file" -}}
{{- if not $dlq.persistentVolumeClaim -}}
{{- fail (printf "%s.dlq.persistentVolumeClaim: required for the file store: on an emptyDir every dead letter is lost with its pod (scale-down, new revision, rescheduling). Name an existing PVC (it needs Knative's kubernetes.podspec-persistent-volume-claim and -write flags), or use store: postgres" .at) -}}
{{- end -}}
{{- include "ke.validatePvc" (dict "ctx" .ctx "at" (printf "%s.dlq.persistentVolumeClaim" .at) "readOnly" false) -}}
{{- if ne (toString (dig "autoscaling" "maxScale" "" .cfg)) "1" -}}
{{- fail (printf "%s.autoscaling.maxScale: must be 1 with the file store (one writer per file; more replicas would each answer the admin API from their own part). Set it to 1, or use store: postgres" .at) -}}
{{- end -}}
{{- else if $dlq.persistentVolumeClaim -}}
{{- fail (printf "%s.dlq.persistentVolumeClaim: only the file store uses a volume (store is %s)" .at $store) -}}
{{- end -}}
{{- end -}}

{{/*
A PingSource against eventing pkg/apis/sources/v1/ping_validation.go: no @every descriptor, and with contentType
application/json, data (or decoded dataBase64) must be a JSON object. (dict "p" pingSource "at" "pingSources.x")
*/}}
{{- define "ke.validatePingSource" -}}
{{- $p := .p -}}
{{- if contains "@every" (toString $p.schedule) -}}
{{- fail (printf "%s.schedule: %q is refused by the PingSource webhook (the @every descriptor is unsupported; eventing pkg/apis/sources/v1/ping_validation.go). Use a 5-field cron, e.g. \"*/10 * * * *\"" .at $p.schedule) -}}
{{- end -}}
{{- if eq (toString $p.contentType) "application/json" -}}
{{- $data := ternary (toString $p.data) (b64dec (toString $p.dataBase64)) (not (empty $p.data)) -}}
{{- $field := ternary "data" "dataBase64" (not (empty $p.data)) -}}
{{- if or $p.data $p.dataBase64 -}}
{{- $parsed := fromJson $data -}}
{{- $isObject := and (hasPrefix "{" (trim $data)) (not (and (hasKey $parsed "Error") (not (contains "\"Error\"" $data)))) -}}
{{- if not $isObject -}}
{{- fail (printf "%s.%s: with contentType application/json the PingSource webhook requires a JSON object (eventing pkg/apis/sources/v1/ping_validation.go validateJSON), got %s" .at $field (trunc 60 $data)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A Trigger: filter or filters, not both; ordered delivery only where a broker has it. (dict "ctx" $ "t" trigger "at" "triggers.x") */}}
{{- define "ke.validateTrigger" -}}
{{- if and (dig "filter" "attributes" nil (default (dict) .t)) .t.filters -}}
{{- fail (printf "%s: set filter or filters, not both: both brokers then apply only filters and ignore filter (eventing pkg/broker/filter/filter_handler.go, eventing-kafka-broker control-plane/pkg/reconciler/trigger/trigger.go); write the attribute match as an exact filter inside filters" .at) -}}
{{- end -}}
{{- if and .t.ordered (ne .ctx.Values.broker.class "Kafka") -}}
{{- fail (printf "%s.ordered: only the Kafka broker delivers in order (kafka.eventing.knative.dev/delivery.order); the %s broker sends every event on its own, concurrently, in no order" .at .ctx.Values.broker.class) -}}
{{- end -}}
{{- end -}}

{{/* Seconds in a duration of whole h/m/s parts (the schema allows only those), e.g. "1h30m" → 5400. */}}
{{- define "ke.durationSeconds" -}}
{{- $total := 0 -}}
{{- range regexFindAll "[0-9]+[hms]" . -1 -}}
{{- $n := trimSuffix "h" (trimSuffix "m" (trimSuffix "s" .)) | int -}}
{{- $unit := ternary 3600 (ternary 60 1 (hasSuffix "m" .)) (hasSuffix "h" .) -}}
{{- $total = add $total (mul $n $unit) -}}
{{- end -}}
{{- $total -}}
{{- end -}}
