{{/*
Labels and annotations on every object's metadata (commonLabels, commonAnnotations and the object's own).
*/}}

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
