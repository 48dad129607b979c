{{/*
Vault: the mode, whether it applies to a service, the secrets a service gets, and the agent injector's annotations
(direct mode's VAULT_* env is in _env.tpl, with the rest of the env).
*/}}

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
