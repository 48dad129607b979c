{{/*
Names and addresses: every object name and every in-cluster URL the chart renders is computed here, in one place.
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

{{/* The one container name every service uses. */}}
{{- define "ke.containerName" -}}app{{- end -}}

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

{{/* <service>.<namespace>.svc.<clusterDomain>: every in-cluster host the chart computes. (dict "ctx" $ "service" "x" "namespace" "y") */}}
{{- define "ke.svcHost" -}}
{{- printf "%s.%s.svc.%s" .service .namespace (default "cluster.local" .ctx.Values.clusterDomain) -}}
{{- end -}}

{{- define "ke.eventingHost" -}}
{{- include "ke.svcHost" (dict "ctx" .ctx "service" .service "namespace" (default "knative-eventing" .ctx.Values.cluster.eventingNamespace)) -}}
{{- end -}}

{{/* Ingress URL of the broker (BROKER_URL). */}}
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

{{- define "ke.kafkaSinkUrl" -}}
{{- include "ke.requireKafkaSink" . -}}
{{- printf "http://%s/%s/%s" (include "ke.eventingHost" (dict "ctx" .ctx "service" "kafka-sink-ingress")) .ctx.Release.Namespace (include "ke.kafkaSinkName" .) -}}
{{- end -}}

{{- define "ke.kafkaSinkContentMode" -}}
{{- include "ke.requireKafkaSink" . -}}
{{- $sink := get .ctx.Values.kafkaSinks .key -}}
{{- default "binary" $sink.contentMode -}}
{{- end -}}
