{{/*
What a reference may point at, and the Destinations and DeliverySpecs built from references: trigger subscribers,
PingSource sinks, dead-letter sinks, a sink-forwarder's sink. A reference to something not rendered fails the
render with the value path to fix.
*/}}

{{/*
"true" when an entry of services, triggers, pingSources or kafkaSinks is rendered: a map whose enabled is not false
(a missing enabled means true). The one test of it, so a template and a reference check can never disagree. ($entry)
*/}}
{{- define "ke.enabled" -}}
{{- if and (kindIs "map" .) (dig "enabled" true .) -}}true{{- end -}}
{{- end -}}

{{/* "true" when services.<key> exists and is enabled (missing enabled = true). (dict "ctx" $ "key" "x") */}}
{{- define "ke.serviceEnabled" -}}
{{- $svc := get .ctx.Values.services .key -}}
{{- include "ke.enabled" $svc -}}
{{- end -}}

{{/* Fail unless services.<key> is an enabled service. (dict "ctx" $ "key" "x" "at" "value.path") */}}
{{- define "ke.requireService" -}}
{{- if not (include "ke.serviceEnabled" (dict "ctx" .ctx "key" .key)) -}}
{{- $known := list -}}
{{- range $k, $v := .ctx.Values.services }}{{ if include "ke.enabled" $v }}{{ $known = append $known $k }}{{ end }}{{ end -}}
{{- fail (printf "%s: %q is not an enabled service (enabled services: %s)" .at .key (join ", " $known | default "none")) -}}
{{- end -}}
{{- end -}}

{{/* Keys of enabled services with a role, sorted, comma-joined. (dict "ctx" $ "role" "dlq") */}}
{{- define "ke.servicesWithRole" -}}
{{- $out := list -}}
{{- range $k, $v := .ctx.Values.services -}}
{{- if and (include "ke.enabled" $v) (eq (toString $v.role) $.role) -}}
{{- $out = append $out $k -}}
{{- end -}}
{{- end -}}
{{- join "," $out -}}
{{- end -}}

{{/* Fail unless kafkaSinks.<key> is defined and enabled. (dict "ctx" $ "key" "x" "at" "value.path") */}}
{{- define "ke.requireKafkaSink" -}}
{{- $sink := get .ctx.Values.kafkaSinks .key -}}
{{- if not (include "ke.enabled" $sink) -}}
{{- $known := list -}}
{{- range $k, $v := .ctx.Values.kafkaSinks }}{{ if include "ke.enabled" $v }}{{ $known = append $known $k }}{{ end }}{{ end -}}
{{- fail (printf "%s: %q is not an enabled KafkaSink under kafkaSinks (enabled sinks: %s)" .at .key (join ", " $known | default "none")) -}}
{{- end -}}
{{- end -}}

{{/*
A Destination as YAML. Accepts {service: <chart service>} | {kafkaSink: <chart sink>} | {ref: {...}} | {uri: ...};
with service/kafkaSink/ref, uri may be a relative path. (dict "ctx" $ "dest" map "at" "value.path")
*/}}
{{- define "ke.destination" -}}
{{- $d := default (dict) .dest -}}
{{- $chosen := 0 -}}
{{- range $k := list "service" "kafkaSink" "ref" -}}{{- if get $d $k }}{{ $chosen = add1 $chosen }}{{ end -}}{{- end -}}
{{- if gt (int $chosen) 1 -}}
{{- fail (printf "%s: set only one of service, kafkaSink, ref" .at) -}}
{{- end -}}
{{- if and (eq (int $chosen) 0) (not $d.uri) -}}
{{- fail (printf "%s: needs one of service, kafkaSink, ref or uri" .at) -}}
{{- end -}}
{{- if $d.service }}
{{- include "ke.requireService" (dict "ctx" .ctx "key" $d.service "at" (printf "%s.service" .at)) }}
ref:
  apiVersion: serving.knative.dev/v1
  kind: Service
  name: {{ include "ke.serviceName" (dict "ctx" .ctx "key" $d.service) }}
  namespace: {{ .ctx.Release.Namespace }}
{{- else if $d.kafkaSink }}
{{- include "ke.requireKafkaSink" (dict "ctx" .ctx "key" $d.kafkaSink "at" (printf "%s.kafkaSink" .at)) }}
ref:
  apiVersion: eventing.knative.dev/v1alpha1
  kind: KafkaSink
  name: {{ include "ke.kafkaSinkName" (dict "ctx" .ctx "key" $d.kafkaSink) }}
  namespace: {{ .ctx.Release.Namespace }}
{{- else if $d.ref }}
{{- range $f := list "apiVersion" "kind" "name" }}
{{- if not (get $d.ref $f) }}{{ fail (printf "%s.ref.%s: required" $.at $f) }}{{ end }}
{{- end }}
ref:
  apiVersion: {{ $d.ref.apiVersion }}
  kind: {{ $d.ref.kind }}
  name: {{ $d.ref.name }}
  namespace: {{ default .ctx.Release.Namespace $d.ref.namespace }}
{{- end }}
{{- with $d.uri }}
uri: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* The broker's resolved dead-letter destination as YAML, or "" for none. */}}
{{- define "ke.brokerDeadLetterSink" -}}
{{- $dls := default (dict) .Values.broker.delivery.deadLetterSink -}}
{{- if $dls -}}
{{- include "ke.destination" (dict "ctx" . "dest" $dls "at" "broker.delivery.deadLetterSink") -}}
{{- else if .Values.broker.delivery.deadLetterToDlq -}}
{{- $dlqs := include "ke.servicesWithRole" (dict "ctx" . "role" "dlq") -}}
{{- if contains "," $dlqs -}}
{{- fail (printf "broker.delivery.deadLetterSink: several enabled dlq services (%s); name one with broker.delivery.deadLetterSink.service" $dlqs) -}}
{{- else if $dlqs -}}
{{- include "ke.destination" (dict "ctx" . "dest" (dict "service" $dlqs) "at" "broker.delivery.deadLetterSink") -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A DeliverySpec as YAML (without the "delivery:" key). (dict "ctx" $ "delivery" map "at" "path" "inheritDls" yamlString)
A value of 0 is rendered (retry: 0 means "no retry"); only absent/null keys are left out.
*/}}
{{- define "ke.delivery" -}}
{{- $d := default (dict) .delivery -}}
{{- if and $d.retryAfterMax (not .ctx.Values.cluster.features.deliveryRetryAfter) -}}
{{- fail (printf "%s.retryAfterMax: Knative Eventing's webhook refuses it unless the delivery-retryafter feature is enabled (config-features in %s, off by default; eventing pkg/apis/duck/v1/delivery_types.go). Remove it, or set cluster.features.deliveryRetryAfter: true if your cluster enables it (the Kafka broker ignores it either way)" .at (default "knative-eventing" .ctx.Values.cluster.eventingNamespace)) -}}
{{- end -}}
{{- if not (kindIs "invalid" $d.retry) }}
retry: {{ int $d.retry }}
{{- end }}
{{- with $d.backoffPolicy }}
backoffPolicy: {{ . }}
{{- end }}
{{- with $d.backoffDelay }}
backoffDelay: {{ . | quote }}
{{- end }}
{{- with $d.timeout }}
timeout: {{ . | quote }}
{{- end }}
{{- with $d.retryAfterMax }}
retryAfterMax: {{ . | quote }}
{{- end }}
{{- with $d.format }}
format: {{ . }}
{{- end }}
{{- if $d.deadLetterSink }}
deadLetterSink:
  {{- include "ke.destination" (dict "ctx" .ctx "dest" $d.deadLetterSink "at" (printf "%s.deadLetterSink" .at)) | trim | nindent 2 }}
{{- else if .inheritDls }}
deadLetterSink:
  {{- .inheritDls | trim | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
A Trigger's delivery when it sets one: the broker's delivery with the trigger's keys over it (0 included). Both
broker classes use a Trigger's spec.delivery INSTEAD of the Broker's, not merged with it (eventing
pkg/reconciler/broker/trigger/trigger.go; eventing-kafka-broker control-plane/pkg/reconciler/trigger/v2/triggerv2.go
deliverySpec; the namespaced Kafka broker's MergeEgressConfig takes the backoff policy from the Trigger alone), so
the chart writes the merge out in full.
Returns a YAML map (without deadLetterSink: the caller inherits the broker's). (dict "ctx" $ "delivery" map)
*/}}
{{- define "ke.triggerDelivery" -}}
{{- $out := omit (deepCopy .ctx.Values.broker.delivery) "deadLetterSink" "deadLetterToDlq" -}}
{{- range $k, $v := .delivery -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}
