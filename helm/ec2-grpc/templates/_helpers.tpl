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
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" }}
{{- end }}
{{- end }}
