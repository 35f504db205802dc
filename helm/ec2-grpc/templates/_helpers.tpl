{{/*
Expand the name of the chart.
*/}}
{{- define "ec2-grpc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "ec2-grpc.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "ec2-grpc.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "ec2-grpc.labels" -}}
helm.sh/chart: {{ include "ec2-grpc.chart" . }}
{{ include "ec2-grpc.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels
*/}}
{{- define "ec2-grpc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ec2-grpc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Create the name of the service account to use
*/}}
{{- define "ec2-grpc.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ec2-grpc.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The container image reference; the tag defaults to the chart's appVersion.
*/}}
{{- define "ec2-grpc.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
The address the server binds: EC2_GRPC_LISTEN.
*/}}
{{- define "ec2-grpc.listen" -}}
{{- printf "%s:%d" .Values.config.listenHost (int .Values.config.port) }}
{{- end }}

{{/*
How many pods run at least: minReplicas under autoscaling, else replicaCount.
*/}}
{{- define "ec2-grpc.minPods" -}}
{{- if .Values.autoscaling.enabled }}{{ int .Values.autoscaling.minReplicas }}{{ else }}{{ int .Values.replicaCount }}{{ end }}
{{- end }}

{{/*
"true" when callers must authenticate (bearer tokens, JWTs or client certificates), else empty.
Without it the chart sets EC2_GRPC_ALLOW_UNAUTHENTICATED=true.
*/}}
{{- define "ec2-grpc.authConfigured" -}}
{{- if or .Values.auth.tokensSecret .Values.auth.jwksSecret .Values.auth.jwksUrl .Values.auth.clientCaSecret }}true{{ end }}
{{- end }}

{{/*
"true" when auth.clientCaSecret needs a volume of its own (it is not the TLS Secret, which is
mounted already), else empty.
*/}}
{{- define "ec2-grpc.clientCaVolume" -}}
{{- if and .Values.auth.clientCaSecret (ne .Values.auth.clientCaSecret .Values.tls.secretName) }}true{{ end }}
{{- end }}

{{/*
EC2_GRPC_AUTH_CLIENT_CA_FILE: ca.crt of auth.clientCaSecret, read from the TLS Secret's mount
when both name the same Secret.
*/}}
{{- define "ec2-grpc.clientCaFile" -}}
{{- if include "ec2-grpc.clientCaVolume" . }}
{{- printf "%s/ca.crt" .Values.auth.clientCaMountPath }}
{{- else }}
{{- printf "%s/ca.crt" .Values.tls.mountPath }}
{{- end }}
{{- end }}

{{/*
"true" when the roles file (auth.roles) is mounted: it only takes effect with caller
authentication, else empty.
*/}}
{{- define "ec2-grpc.rolesFile" -}}
{{- if and (include "ec2-grpc.authConfigured" .) .Values.auth.roles }}true{{ end }}
{{- end }}

{{/*
"true" when the audit policy (audit.policy) is mounted: the trail is on and has a policy, else
empty.
*/}}
{{- define "ec2-grpc.auditPolicy" -}}
{{- if and .Values.audit.enabled .Values.audit.policy }}true{{ end }}
{{- end }}

{{/*
The directory of the audit trail's file (audit.log a path, not "-"), where the writable volume
audit-log is mounted; empty when the trail is off or goes to stdout.
*/}}
{{- define "ec2-grpc.auditLogDir" -}}
{{- if and .Values.audit.enabled (ne .Values.audit.log "-") }}{{ dir .Values.audit.log }}{{ end }}
{{- end }}

{{/*
"true" when the chart mounts volumes of its own: the roles, accounts and audit policy
ConfigMaps, the audit trail's volume, the Secrets of authentication, TLS and the Redis
password; else empty. (extraVolumes and extraVolumeMounts come on top.)
*/}}
{{- define "ec2-grpc.volumes" -}}
{{- if or (include "ec2-grpc.rolesFile" .) .Values.accounts (include "ec2-grpc.auditPolicy" .) (include "ec2-grpc.auditLogDir" .) .Values.auth.tokensSecret .Values.auth.jwksSecret (include "ec2-grpc.clientCaVolume" .) .Values.tls.secretName .Values.budget.redis.passwordSecret.name }}true{{ end }}
{{- end }}

{{/*
"true" when the EC2 budget is shared by the replicas through Redis (budget.redis.urlSecret),
else empty.
*/}}
{{- define "ec2-grpc.redisBudget" -}}
{{- if .Values.budget.redis.urlSecret.name }}true{{ end }}
{{- end }}

{{/*
How many replicas may run at most: maxReplicas under autoscaling, else replicaCount.
*/}}
{{- define "ec2-grpc.maxPods" -}}
{{- if .Values.autoscaling.enabled }}{{ int .Values.autoscaling.maxReplicas }}{{ else }}{{ int .Values.replicaCount }}{{ end }}
{{- end }}

{{/*
EC2_GRPC_EC2_BUDGET_SHARE. config.ec2BudgetShare is the release's share of the AWS account,
all replicas together. With Redis the binary takes it as that (one budget for all replicas).
Without Redis the binary takes it as each replica's own share, so it is divided by the most
replicas that may run (maxPods): N replicas never spend more than the release's share.
*/}}
{{- define "ec2-grpc.budgetShare" -}}
{{- $share := float64 .Values.config.ec2BudgetShare }}
{{- $pods := int (include "ec2-grpc.maxPods" .) }}
{{- if or (include "ec2-grpc.redisBudget" .) (le $pods 1) }}
{{- $share | toString }}
{{- else }}
{{- divf $share $pods | toString }}
{{- end }}
{{- end }}

{{/*
The memory an inventory of inventory.expectedInstances instances needs, in Mi, as YAML
{request: R, limit: L}; empty when expectedInstances is 0. Each view holds about 2 KiB per
instance (211 MiB RSS with 100,000 instances, BENCHMARKS.md P9), counted here as 2.5 KiB for
the transient copies of a full list (peak 243-249 MiB); 64Mi is the gateway under load without
a view (P7: 65 MiB). request = 64 + ceil(2.5 KiB x n in Mi), limit = ceil(1.25 x request), and
never below the chart's defaults (64Mi, 256Mi): the per-instance term does not cover what
connections and watchers add (1,000 watchers: 108 MiB with 10,000 instances), for which the
defaults have room.
*/}}
{{- define "ec2-grpc.inventoryMemory" -}}
{{- $n := int64 (.Values.inventory.expectedInstances | default 0) }}
{{- if gt $n 0 }}
{{- $request := add 64 (div (add (mul 5 $n) 2047) 2048) }}
{{- $limit := max 256 (div (add (mul 5 $request) 3) 4) }}
request: {{ $request }}
limit: {{ $limit }}
{{- end }}
{{- end }}

{{/*
A memory quantity in bytes (an integer), or empty when it is not one the chart reads (plain
bytes, or a number with one of the suffixes Ki Mi Gi Ti Pi Ei k M G T P E).
*/}}
{{- define "ec2-grpc.memoryBytes" -}}
{{- if kindIs "string" . }}
{{- if regexMatch "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$" . }}
{{- $number := regexFind "^[0-9.]+" . }}
{{- $units := dict "" 1 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "Pi" 1125899906842624 "Ei" 1152921504606846976 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "P" 1000000000000000 "E" 1000000000000000000 }}
{{- mulf $number (get $units (trimPrefix $number .)) | ceil | int64 }}
{{- end }}
{{- else if or (kindIs "float64" .) (kindIs "int64" .) (kindIs "int" .) }}
{{- int64 . }}
{{- end }}
{{- end }}

{{/*
The container's resources: .Values.resources, with the memory request and limit filled in
when not given: from inventory.expectedInstances when set (ec2-grpc.inventoryMemory), else the
chart's defaults 64Mi and 256Mi. A value given in resources always wins; a filled-in request
never exceeds the limit, a filled-in limit is never below the request (the API server refuses
a request above the limit).
*/}}
{{- define "ec2-grpc.resources" -}}
{{- $resources := deepCopy (.Values.resources | default dict) }}
{{- $requests := get $resources "requests" | default dict }}
{{- $limits := get $resources "limits" | default dict }}
{{- $request := "64Mi" }}
{{- $limit := "256Mi" }}
{{- with include "ec2-grpc.inventoryMemory" . | fromYaml }}
{{- $request = printf "%dMi" (int64 .request) }}
{{- $limit = printf "%dMi" (int64 .limit) }}
{{- end }}
{{- if $limits.memory }}
{{- $limit = $limits.memory }}
{{- end }}
{{- if $requests.memory }}
{{- $request = $requests.memory }}
{{- end }}
{{- $requestBytes := include "ec2-grpc.memoryBytes" $request }}
{{- $limitBytes := include "ec2-grpc.memoryBytes" $limit }}
{{- if and $requestBytes $limitBytes (gt (int64 $requestBytes) (int64 $limitBytes)) }}
{{- if not $requests.memory }}
{{- $request = $limit }}
{{- else if not $limits.memory }}
{{- $limit = $request }}
{{- else }}
{{- fail (printf "resources.requests.memory (%v) exceeds resources.limits.memory (%v)" $request $limit) }}
{{- end }}
{{- end }}
{{- $_ := set $requests "memory" $request }}
{{- $_ = set $limits "memory" $limit }}
{{- $_ = set $resources "requests" $requests }}
{{- $_ = set $resources "limits" $limits }}
{{- toYaml $resources }}
{{- end }}

{{/*
Checks across values that the JSON schema cannot express; fails the render with the reason.
*/}}
{{- define "ec2-grpc.validate" -}}
{{- $grace := int .Values.config.shutdownGraceSeconds }}
{{- $sleep := int .Values.preStopSleepSeconds }}
{{- if le (int .Values.terminationGracePeriodSeconds) (add $grace $sleep) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed config.shutdownGraceSeconds (%d) + preStopSleepSeconds (%d), or Kubernetes kills in-flight calls before the grace period ends" (int .Values.terminationGracePeriodSeconds) $grace $sleep) }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "metrics.serviceMonitor.enabled needs metrics.enabled: the ServiceMonitor scrapes the Service's metrics port" }}
{{- end }}
{{- if and .Values.metrics.enabled (eq (int .Values.metrics.port) (int .Values.config.port)) }}
{{- fail "metrics.port must differ from config.port" }}
{{- end }}
{{- if and .Values.auth.clientCaSecret (not .Values.tls.secretName) }}
{{- fail "auth.clientCaSecret needs tls.secretName: client certificates (mTLS) are only presented over TLS" }}
{{- end }}
{{- if and .Values.auth.jwksSecret .Values.auth.jwksUrl }}
{{- fail "auth.jwksSecret and auth.jwksUrl conflict: set one source of the JWKS (a Secret's file or an https URL)" }}
{{- end }}
{{- if and .Values.auth.reflectionRequiresCredentials (not (include "ec2-grpc.authConfigured" .)) }}
{{- fail "auth.reflectionRequiresCredentials needs caller authentication: set auth.tokensSecret, auth.jwksSecret, auth.jwksUrl or auth.clientCaSecret" }}
{{- end }}
{{- if and .Values.budget.redis.passwordSecret.name (not (include "ec2-grpc.redisBudget" .)) }}
{{- fail "budget.redis.passwordSecret needs budget.redis.urlSecret.name: the password is for the Redis of the shared EC2 budget" }}
{{- end }}
{{- if and .Values.budget.redis.key (not (include "ec2-grpc.redisBudget" .)) }}
{{- fail "budget.redis.key needs budget.redis.urlSecret.name: it names the EC2 budget shared through Redis" }}
{{- end }}
{{- with include "ec2-grpc.auditLogDir" . }}
{{- if eq . "/" }}
{{- fail (printf "audit.log (%s) must be a file in a directory, e.g. /var/log/ec2-grpc/audit.jsonl: its directory is where the writable volume audit-log is mounted" $.Values.audit.log) }}
{{- end }}
{{- if or (eq . "/etc/ec2-grpc/audit") (hasPrefix "/etc/ec2-grpc/audit/" .) }}
{{- fail (printf "audit.log (%s) must not be under /etc/ec2-grpc/audit, the read-only mount of the audit policy" $.Values.audit.log) }}
{{- end }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" }}
{{- end }}
{{- end }}

{{/*
The binary's command: an explicit command makes Kubernetes ignore the image's default CMD
flags, which would override the ConfigMap's environment (flags win over EC2_GRPC_*). A YAML
list at column 0, for the gateway and the preflight check alike.
*/}}
{{- define "ec2-grpc.command" -}}
- /ec2-grpc
{{- end }}

{{/*
Everything the binary reads its configuration from: envFrom (the ConfigMap of EC2_GRPC_*
settings), env (AWS settings, the Redis URL from its Secret, extraEnv) and volumeMounts (the
roles, accounts and audit policy ConfigMaps, the audit trail's volume, the Secrets of
authentication, TLS and the Redis password, extraVolumeMounts), as YAML at column 0. Shared by the gateway's container and the preflight
init container (ec2-grpc check), so that the check sees exactly the settings, files and Secrets
the gateway will run with.
*/}}
{{- define "ec2-grpc.containerConfig" -}}
envFrom:
  - configMapRef:
      name: {{ include "ec2-grpc.fullname" . }}
{{- if or .Values.aws.region .Values.aws.endpointUrlEc2 (include "ec2-grpc.redisBudget" .) .Values.extraEnv }}
env:
  {{- with .Values.aws.region }}
  - name: AWS_REGION
    value: {{ . | quote }}
  {{- end }}
  {{- with .Values.aws.endpointUrlEc2 }}
  - name: AWS_ENDPOINT_URL_EC2
    value: {{ . | quote }}
  {{- end }}
  {{- if include "ec2-grpc.redisBudget" . }}
  # The Redis of the shared EC2 budget: the URL may carry a password, so it comes from
  # the Secret, never from the ConfigMap.
  - name: EC2_GRPC_EC2_BUDGET_REDIS_URL
    valueFrom:
      secretKeyRef:
        name: {{ .Values.budget.redis.urlSecret.name }}
        key: {{ .Values.budget.redis.urlSecret.key }}
  {{- end }}
  {{- with .Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
{{- if or (include "ec2-grpc.volumes" .) .Values.extraVolumeMounts }}
volumeMounts:
  {{- if include "ec2-grpc.rolesFile" . }}
  - name: auth-roles
    mountPath: /etc/ec2-grpc/auth/roles
    readOnly: true
  {{- end }}
  {{- if .Values.accounts }}
  # The whole ConfigMap as a directory (no subPath), so that an edited accounts file
  # reaches the running pod: the binary reads it again when it changes.
  - name: accounts
    mountPath: /etc/ec2-grpc/accounts
    readOnly: true
  {{- end }}
  {{- if include "ec2-grpc.auditPolicy" . }}
  # The audit policy, the whole ConfigMap as a directory (no subPath) like the accounts file:
  # the binary reads it again when it changes.
  - name: audit-policy
    mountPath: /etc/ec2-grpc/audit
    readOnly: true
  {{- end }}
  {{- with include "ec2-grpc.auditLogDir" . }}
  # The audit trail's file: its directory, writable (the root filesystem is read-only).
  - name: audit-log
    mountPath: {{ . }}
  {{- end }}
  {{- if .Values.auth.tokensSecret }}
  - name: auth-tokens
    mountPath: {{ .Values.auth.tokensMountPath }}
    readOnly: true
  {{- end }}
  {{- if .Values.auth.jwksSecret }}
  - name: auth-jwks
    mountPath: {{ .Values.auth.jwksMountPath }}
    readOnly: true
  {{- end }}
  {{- if include "ec2-grpc.clientCaVolume" . }}
  - name: auth-client-ca
    mountPath: {{ .Values.auth.clientCaMountPath }}
    readOnly: true
  {{- end }}
  {{- if .Values.tls.secretName }}
  - name: tls
    mountPath: {{ .Values.tls.mountPath }}
    readOnly: true
  {{- end }}
  {{- if .Values.budget.redis.passwordSecret.name }}
  - name: budget-redis-password
    mountPath: {{ .Values.budget.redis.passwordMountPath }}
    readOnly: true
  {{- end }}
  {{- with .Values.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
The resources of the preflight init container (ec2-grpc check): it reads the configuration
files once and, with preflight.aws, makes a few AWS and Redis calls, then exits. Requests: cpu
50m, memory 64Mi (a pod is scheduled by the larger of its init container's requests and its
containers' sum, so requests at or below the gateway's add nothing). Limits: memory 128Mi (the
SDK clients need some), or the gateway's memory limit when that is lower; cpu the gateway's cpu
limit when it has one (none otherwise, like the gateway). A request never exceeds its limit.
*/}}
{{- define "ec2-grpc.preflightResources" -}}
{{- $main := include "ec2-grpc.resources" . | fromYaml }}
{{- $memLimit := "128Mi" }}
{{- $mainLimit := $main.limits.memory }}
{{- $mainBytes := include "ec2-grpc.memoryBytes" $mainLimit }}
{{- if and $mainBytes (lt (int64 $mainBytes) (int64 (include "ec2-grpc.memoryBytes" $memLimit))) }}
{{- $memLimit = $mainLimit }}
{{- end }}
{{- $memRequest := "64Mi" }}
{{- $limitBytes := include "ec2-grpc.memoryBytes" $memLimit }}
{{- if and $limitBytes (gt (int64 (include "ec2-grpc.memoryBytes" $memRequest)) (int64 $limitBytes)) }}
{{- $memRequest = $memLimit }}
{{- end }}
{{- $requests := dict "cpu" "50m" "memory" $memRequest }}
{{- $limits := dict "memory" $memLimit }}
{{- with $main.limits.cpu }}
{{- $_ := set $limits "cpu" . }}
{{- $millis := include "ec2-grpc.millicores" . }}
{{- if and $millis (lt (int64 $millis) 50) }}
{{- $_ := set $requests "cpu" . }}
{{- end }}
{{- end }}
{{- toYaml (dict "requests" $requests "limits" $limits) }}
{{- end }}

{{/*
A cpu quantity in millicores (an integer), or empty when it is not one the chart reads (a
number of cores, such as 1 or "0.5", or millicores, such as "500m").
*/}}
{{- define "ec2-grpc.millicores" -}}
{{- if kindIs "string" . }}
{{- if regexMatch "^[0-9]+m$" . }}
{{- trimSuffix "m" . | int64 }}
{{- else if regexMatch "^[0-9]+(\\.[0-9]+)?$" . }}
{{- mulf . 1000 | ceil | int64 }}
{{- end }}
{{- else if or (kindIs "float64" .) (kindIs "int64" .) (kindIs "int" .) }}
{{- mulf . 1000 | ceil | int64 }}
{{- end }}
{{- end }}
