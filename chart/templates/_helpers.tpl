{{/*
Every name and every cross-reference is computed here, in one place.
Helpers that take more than the root context are called with (dict "ctx" $ ...).
*/}}

{{- define "ke.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-wide prefix, cut to 63 characters. */}}
{{- define "ke.fullname" -}}
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

{{- define "ke.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Name of a child object: <fullname>-<key> within 63 characters (or "max"). The prefix is cut, never the key,
so two children of one release can never end up with the same name. (dict "ctx" $ "key" "x" ["max" 57])
*/}}
{{- define "ke.childName" -}}
{{- $max := int (default 63 .max) -}}
{{- $room := int (sub $max (add1 (len .key))) -}}
{{- if lt $room 1 -}}
{{- fail (printf "%q: name too long (at most %d characters with its prefix)" .key (sub $max 2)) -}}
{{- end -}}
{{- printf "%s-%s" (include "ke.fullname" .ctx | trunc $room | trimSuffix "-") .key -}}
{{- end -}}

{{/* Knative Service name: cut to 57 so the revision name <service>-00001 stays within 63. */}}
{{- define "ke.serviceName" -}}
{{- include "ke.childName" (dict "ctx" .ctx "key" .key "max" 57) -}}
{{- end -}}

{{/*
A short, stable hash of the values an object's immutable fields come from. Knative's webhooks refuse an update that
changes an immutable field, so those values are part of the object's name: a change makes a new object (Helm
creates it and deletes the old one) instead of a patch the webhook refuses halfway through `helm upgrade`.
*/}}
{{- define "ke.hash" -}}
{{- sha256sum (toJson .) | trunc 8 -}}
{{- end -}}

{{/* Trigger spec.broker is immutable (eventing pkg/apis/eventing/v1/trigger_validation.go): the broker is in the name. */}}
{{- define "ke.triggerName" -}}
{{- include "ke.childName" (dict "ctx" .ctx "key" (printf "trigger-%s-%s" .key (include "ke.hash" (include "ke.brokerName" .ctx)))) -}}
{{- end -}}

{{- define "ke.pingSourceName" -}}
{{- include "ke.childName" (dict "ctx" .ctx "key" (printf "ping-%s" .key)) -}}
{{- end -}}

{{/*
KafkaSink topic, numPartitions and replicationFactor are immutable (eventing-kafka-broker
control-plane/pkg/apis/eventing/v1alpha1/kafka_sink_validation.go): they are in the name.
*/}}
{{- define "ke.kafkaSinkName" -}}
{{- $s := get .ctx.Values.kafkaSinks .key | default (dict) -}}
{{- include "ke.childName" (dict "ctx" .ctx "key" (printf "%s-%s" .key (include "ke.hash" (include "ke.kafkaSinkImmutable" $s | fromYaml)))) -}}
{{- end -}}

{{/* The immutable part of a KafkaSink's spec, as rendered (YAML). Topic sizes only when the sink owns its topic. */}}
{{- define "ke.kafkaSinkImmutable" -}}
topic: {{ .topic | quote }}
{{- if .ownTopic }}
numPartitions: {{ int .numPartitions }}
replicationFactor: {{ int .replicationFactor }}
{{- end }}
{{- end -}}

{{/* The one container name every service uses. */}}
{{- define "ke.containerName" -}}app{{- end -}}

{{/* Common labels. (dict "ctx" $ "component" "x" ["extra" map]) */}}
{{- define "ke.labels" -}}
{{- $ctx := .ctx -}}
helm.sh/chart: {{ include "ke.chart" $ctx }}
{{ include "ke.selectorLabels" . }}
app.kubernetes.io/version: {{ $ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
app.kubernetes.io/part-of: {{ include "ke.name" $ctx }}
{{- with $ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "ke.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ke.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{/* metadata.annotations block content (commonAnnotations + extra), empty when none. (dict "ctx" $ "extra" map) */}}
{{- define "ke.annotations" -}}
{{- $all := merge (deepCopy (default (dict) .extra)) (deepCopy (default (dict) .ctx.Values.commonAnnotations)) -}}
{{- if $all }}
{{- toYaml $all }}
{{- end }}
{{- end -}}

{{/* ---------- services ---------- */}}

{{/* "true" when services.<key> exists and is enabled (missing enabled = true). (dict "ctx" $ "key" "x") */}}
{{- define "ke.serviceEnabled" -}}
{{- $svc := get .ctx.Values.services .key -}}
{{- if and (kindIs "map" $svc) (dig "enabled" true $svc) -}}true{{- end -}}
{{- end -}}

{{/* Fail unless services.<key> is an enabled service. (dict "ctx" $ "key" "x" "at" "value.path") */}}
{{- define "ke.requireService" -}}
{{- if not (include "ke.serviceEnabled" (dict "ctx" .ctx "key" .key)) -}}
{{- $known := list -}}
{{- range $k, $v := .ctx.Values.services }}{{ if and (kindIs "map" $v) (dig "enabled" true $v) }}{{ $known = append $known $k }}{{ end }}{{ end -}}
{{- fail (printf "%s: %q is not an enabled service (enabled services: %s)" .at .key (join ", " $known | default "none")) -}}
{{- end -}}
{{- end -}}

{{/* Effective settings of one service: serviceDefaults deep-merged with services.<key>. Returns YAML. */}}
{{- define "ke.serviceConfig" -}}
{{- $svc := get .ctx.Values.services .key -}}
{{- toYaml (mergeOverwrite (deepCopy .ctx.Values.serviceDefaults) (deepCopy $svc)) -}}
{{- end -}}

{{/* Keys of enabled services with a role, sorted, comma-joined. (dict "ctx" $ "role" "dlq") */}}
{{- define "ke.servicesWithRole" -}}
{{- $out := list -}}
{{- range $k, $v := .ctx.Values.services -}}
{{- if and (kindIs "map" $v) (dig "enabled" true $v) (eq (toString $v.role) $.role) -}}
{{- $out = append $out $k -}}
{{- end -}}
{{- end -}}
{{- join "," $out -}}
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

{{/* ---------- broker ---------- */}}

{{/*
A created Broker is <broker.name or fullname>-<hash>: its spec (except delivery) and its class annotation are
immutable (eventing pkg/apis/eventing/v1/broker_validation.go), and the Kafka broker makes its topic once from
the config's partitions and replication factor, so all of these are in the name. An existing broker keeps its name.
*/}}
{{- define "ke.brokerName" -}}
{{- if not .Values.broker.create -}}
{{- required "broker.name: required when broker.create is false (the name of the existing broker)" .Values.broker.name -}}
{{- else -}}
{{- $h := include "ke.hash" (include "ke.brokerImmutable" . | fromYaml) -}}
{{- $base := default (include "ke.fullname" .) .Values.broker.name -}}
{{- printf "%s-%s" ($base | trunc 54 | trimSuffix "-") $h -}}
{{- end -}}
{{- end -}}

{{/* What a created Broker cannot change in place (YAML): class, spec.config, and what its topic or channel is made from. */}}
{{- define "ke.brokerImmutable" -}}
{{- $c := .Values.broker.config -}}
class: {{ .Values.broker.class }}
config: {{ printf "%s/%s" (include "ke.brokerConfigNamespace" .) (include "ke.brokerConfigName" .) }}
{{- if and $c.create (eq .Values.broker.class "Kafka") }}
topicPartitions: {{ int $c.topicPartitions }}
replicationFactor: {{ int $c.replicationFactor }}
{{- else if $c.create }}
channelTemplateSpec: {{ toJson $c.channelTemplateSpec }}
{{- end }}
{{- end -}}

{{- define "ke.brokerNamespace" -}}
{{- if and .Values.broker.create .Values.broker.namespace (ne .Values.broker.namespace .Release.Namespace) -}}
{{- fail (printf "broker.namespace: %q differs from the release namespace %q; a created broker lives in the release namespace (set broker.create: false to use a broker elsewhere)" .Values.broker.namespace .Release.Namespace) -}}
{{- end -}}
{{- default .Release.Namespace .Values.broker.namespace -}}
{{- end -}}

{{/* The broker's config ConfigMap name: one helper for the ConfigMap and the Broker's spec.config. */}}
{{- define "ke.brokerConfigName" -}}
{{- if .Values.broker.config.create -}}
{{- include "ke.childName" (dict "ctx" . "key" "broker-config") -}}
{{- else if .Values.broker.config.name -}}
{{- .Values.broker.config.name -}}
{{- else -}}
{{- fail "broker.config.name: required when broker.config.create is false (the name of an existing ConfigMap)" -}}
{{- end -}}
{{- end -}}

{{- define "ke.brokerConfigNamespace" -}}
{{- if .Values.broker.config.create -}}
{{- .Release.Namespace -}}
{{- else -}}
{{- default (include "ke.brokerNamespace" .) .Values.broker.config.namespace -}}
{{- end -}}
{{- end -}}

{{/* Ingress URL of the broker (BROKER_URL). */}}
{{/* <service>.<namespace>.svc.<clusterDomain>: every in-cluster host the chart computes. (dict "ctx" $ "service" "x" "namespace" "y") */}}
{{- define "ke.svcHost" -}}
{{- printf "%s.%s.svc.%s" .service .namespace (default "cluster.local" .ctx.Values.clusterDomain) -}}
{{- end -}}

{{- define "ke.eventingHost" -}}
{{- include "ke.svcHost" (dict "ctx" .ctx "service" .service "namespace" (default "knative-eventing" .ctx.Values.cluster.eventingNamespace)) -}}
{{- end -}}

{{- define "ke.brokerUrl" -}}
{{- if .Values.broker.url -}}
{{- .Values.broker.url -}}
{{- else if eq .Values.broker.class "Kafka" -}}
{{- printf "http://%s/%s/%s" (include "ke.eventingHost" (dict "ctx" . "service" "kafka-broker-ingress")) (include "ke.brokerNamespace" .) (include "ke.brokerName" .) -}}
{{- else if eq .Values.broker.class "MTChannelBasedBroker" -}}
{{- printf "http://%s/%s/%s" (include "ke.eventingHost" (dict "ctx" . "service" "broker-ingress")) (include "ke.brokerNamespace" .) (include "ke.brokerName" .) -}}
{{- else -}}
{{- fail (printf "broker.url: required for broker.class %q (the chart computes the URL for Kafka and MTChannelBasedBroker only)" .Values.broker.class) -}}
{{- end -}}
{{- end -}}

{{/* ---------- kafka sinks ---------- */}}

{{/* Fail unless kafkaSinks.<key> is defined and enabled. (dict "ctx" $ "key" "x" "at" "value.path") */}}
{{- define "ke.requireKafkaSink" -}}
{{- $sink := get .ctx.Values.kafkaSinks .key -}}
{{- if not (and (kindIs "map" $sink) (dig "enabled" true $sink)) -}}
{{- $known := list -}}
{{- range $k, $v := .ctx.Values.kafkaSinks }}{{ if and (kindIs "map" $v) (dig "enabled" true $v) }}{{ $known = append $known $k }}{{ end }}{{ end -}}
{{- fail (printf "%s: %q is not an enabled KafkaSink under kafkaSinks (enabled sinks: %s)" .at .key (join ", " $known | default "none")) -}}
{{- end -}}
{{- end -}}

{{- define "ke.kafkaSinkUrl" -}}
{{- include "ke.requireKafkaSink" . -}}
{{- printf "http://%s/%s/%s" (include "ke.eventingHost" (dict "ctx" .ctx "service" "kafka-sink-ingress")) .ctx.Release.Namespace (include "ke.kafkaSinkName" .) -}}
{{- end -}}

{{- define "ke.kafkaSinkContentMode" -}}
{{- include "ke.requireKafkaSink" . -}}
{{- $sink := get .ctx.Values.kafkaSinks .key -}}
{{- default "binary" $sink.contentMode -}}
{{- end -}}

{{/* ---------- destinations (trigger subscribers, sinks, dead-letter sinks) ---------- */}}

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

{{/* ---------- vault ---------- */}}

{{/* "off" | "agent" | "direct"; YAML's unquoted off (false) counts as "off". */}}
{{- define "ke.vaultMode" -}}
{{- $m := .Values.vault.mode -}}
{{- if or (kindIs "bool" $m) (not $m) -}}off{{- else -}}{{ $m }}{{- end -}}
{{- end -}}

{{/* Vault applies to this service? (dict "ctx" $ "cfg" serviceConfig) */}}
{{- define "ke.vaultOn" -}}
{{- if and (ne (include "ke.vaultMode" .ctx) "off") (dig "vault" "enabled" true .cfg) -}}true{{- end -}}
{{- end -}}

{{/* Secrets for a service: global vault.secrets merged with services.<name>.vault.secrets. Returns YAML map. */}}
{{- define "ke.vaultSecrets" -}}
{{- $s := mergeOverwrite (deepCopy (default (dict) .ctx.Values.vault.secrets)) (deepCopy (dig "vault" "secrets" (dict) .cfg)) -}}
{{- toYaml $s -}}
{{- end -}}

{{/*
The agent template for one secret: renders every key as KEY="value" (value JSON-escaped by toJSON).
The braces are emitted as literal strings so Helm does not evaluate them. (dict "ctx" $ "path" "secret/data/x")
*/}}
{{- define "ke.vaultTemplate" -}}
{{- $v := .ctx.Values.vault -}}
{{- $l := default "{{" (dig "agent" "templateDelimiters" "left" "" $v) -}}
{{- $r := default "}}" (dig "agent" "templateDelimiters" "right" "" $v) -}}
{{- $data := ternary ".Data.data" ".Data" (eq (int $v.kvVersion) 2) -}}
{{- printf "%s- with secret %q -%s%s range $k, $v := %s %s%s $k %s=%s $v | toJSON %s\n%s end %s%s- end %s" $l .path $r $l $data $r $l $r $l $r $l $r $l $r -}}
{{- end -}}

{{/* Vault agent injector annotations for a pod template. (dict "ctx" $ "cfg" serviceConfig "at" "services.x") */}}
{{- define "ke.vaultAgentAnnotations" -}}
{{- $v := .ctx.Values.vault -}}
{{- $secrets := include "ke.vaultSecrets" . | fromYaml -}}
{{- if not $v.role }}{{ fail "vault.role: required when vault.mode is agent" }}{{ end -}}
{{- if not $secrets }}{{ fail (printf "vault.secrets: at least one secret is required when vault.mode is agent (or set %s.vault.enabled: false)" .at) }}{{ end -}}
vault.hashicorp.com/agent-inject: "true"
vault.hashicorp.com/role: {{ $v.role | quote }}
vault.hashicorp.com/auth-path: {{ $v.authPath | quote }}
vault.hashicorp.com/agent-pre-populate-only: {{ $v.agent.prePopulateOnly | toString | quote }}
vault.hashicorp.com/secret-volume-path: {{ $v.agent.secretVolumePath | quote }}
vault.hashicorp.com/tls-skip-verify: {{ ternary "true" "false" (eq (toString $v.tlsSkipVerify) "true") | quote }}
{{- with $v.namespace }}
vault.hashicorp.com/namespace: {{ . | quote }}
{{- end }}
{{- with $v.caCert }}
vault.hashicorp.com/ca-cert: {{ . | quote }}
{{- end }}
{{- with $v.tlsSecret }}
vault.hashicorp.com/tls-secret: {{ . | quote }}
{{- end }}
{{- range $file, $s := $secrets }}
{{- $path := (kindIs "map" $s) | ternary (get (default (dict) $s) "path") $s }}
{{- if not $path }}{{ fail (printf "vault.secrets.%s.path: required" $file) }}{{ end }}
vault.hashicorp.com/agent-inject-secret-{{ $file }}: {{ $path | quote }}
vault.hashicorp.com/agent-inject-template-{{ $file }}: {{ include "ke.vaultTemplate" (dict "ctx" $.ctx "path" $path) | quote }}
{{- with $v.agent.templateDelimiters }}
vault.hashicorp.com/agent-template-left-delim-{{ $file }}: {{ .left | quote }}
vault.hashicorp.com/agent-template-right-delim-{{ $file }}: {{ .right | quote }}
{{- end }}
{{- end }}
{{- with $v.agent.annotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* ---------- secrets given to the runtime ---------- */}}

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

{{/* public | cluster-local: handlers are public unless told otherwise, the rest cluster-local. (serviceConfig) */}}
{{- define "ke.visibility" -}}
{{- default (ternary "public" "cluster-local" (eq (toString .role) "handler")) .visibility -}}
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

{{/* ---------- env ---------- */}}

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
