{{/* Names */}}
{{- define "cairn.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cairn.fullname" -}}
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

{{- define "cairn.operator.fullname" -}}
{{- printf "%s-operator" (include "cairn.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cairn.webhook.fullname" -}}
{{- printf "%s-webhook" (include "cairn.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Cluster-scoped objects carry the namespace too: two releases of the same
name in different namespaces must not share them. */}}
{{- define "cairn.clusterName" -}}
{{- printf "%s-%s" (include "cairn.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cairn.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (include "cairn.operator.fullname" .) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- required "operator.serviceAccount.name is required when operator.serviceAccount.create is false" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "cairn.webhook.serviceAccountName" -}}
{{- if .Values.webhook.serviceAccount.create -}}
{{- default (include "cairn.webhook.fullname" .) .Values.webhook.serviceAccount.name -}}
{{- else -}}
{{- required "webhook.serviceAccount.name is required when webhook.serviceAccount.create is false" .Values.webhook.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "cairn.webhook.tlsSecretName" -}}
{{- printf "%s-tls" (include "cairn.webhook.fullname" .) -}}
{{- end -}}

{{- define "cairn.push.tlsSecretName" -}}
{{- printf "%s-push-tls" (include "cairn.operator.fullname" .) -}}
{{- end -}}

{{/* Labels */}}
{{- define "cairn.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "cairn.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cairn
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "component" "operator"). */}}
{{- define "cairn.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cairn.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "cairn.componentLabels" -}}
{{ include "cairn.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "cairn.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The namespaces whose Roles the operator and webhook get. */}}
{{- define "cairn.watchNamespaces" -}}
{{- join "," .Values.watchNamespaces -}}
{{- end -}}

{{/* Rules the operator needs wherever it manages Pipelines and Releases
(namespaced: a Role per watched namespace, or one ClusterRole for all). */}}
{{- define "cairn.operator.rules" -}}
- apiGroups: [cairn.dev]
  resources: [pipelines, releases]
  verbs: [get, list, watch, update, patch]
- apiGroups: [cairn.dev]
  resources: [pipelines/status, releases/status]
  verbs: [get, update, patch]
- apiGroups: [cairn.dev]
  resources: [pipelines/finalizers, releases/finalizers]
  verbs: [update]
# Pipeline steps run as Jobs; their Pods tell how a step ended and rollout
# health reads the Pods of Deployments, StatefulSets and DaemonSets.
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
# Git credentials and signer keys named by Pipelines and Releases.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- range .Values.operator.rbac.managedResources }}
- apiGroups: {{ toJson .apiGroups }}
  resources: {{ toJson .resources }}
  verbs: [get, list, watch, create, update, patch, delete]
{{- end }}
{{- if .Values.operator.rbac.allowEscalation }}
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, clusterroles]
  verbs: [bind, escalate]
{{- end }}
{{- end -}}

{{/* What the operator's informers list and watch (operator/main.cc): with
several watched namespaces they are cluster-wide and filtered in the
operator, so list/watch (never get on Secrets) must be cluster-wide too. */}}
{{- define "cairn.operator.watchRules" -}}
- apiGroups: [cairn.dev]
  resources: [pipelines, releases]
  verbs: [list, watch]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [list, watch]
- apiGroups: [""]
  resources: [pods, configmaps, services, serviceaccounts]
  verbs: [list, watch]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [list, watch]
{{- end -}}

{{/* The webhook's rules that are scoped to the managed namespaces when
watchNamespaces is set. */}}
{{- define "cairn.webhook.namespacedRules" -}}
# Signer keys and git credentials of the Releases it checks against.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
# BreakGlass Events on the objects admitted by break-glass.
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
{{/* The pod-level and container-level security contexts. */}}
{{- define "cairn.podSecurityContext" -}}
{{ toYaml .Values.podSecurityContext }}
{{- end -}}
{{- define "cairn.securityContext" -}}
{{ toYaml .Values.securityContext }}
{{- end -}}

{{/* Validation that the schema cannot express. */}}
{{- define "cairn.validate" -}}
{{- if and (gt (int .Values.operator.replicas) 1) (not .Values.operator.leaderElection.enabled) -}}
{{- fail "operator.replicas > 1 needs operator.leaderElection.enabled: two operators without a Lease would both reconcile" -}}
{{- end -}}
{{- if and .Values.webhook.url (not .Values.webhook.caBundle) -}}
{{- fail "webhook.url needs webhook.caBundle (base64 PEM of the CA that signed the certificate served there)" -}}
{{- end -}}
{{- if and .Values.operator.push.enabled (not .Values.operator.push.secretName) -}}
{{- fail "operator.push.enabled needs operator.push.secretName (a Secret with the key `token`)" -}}
{{- end -}}
{{- end -}}

{{/*
Pod-level network settings of a component ({{ include "cairn.hostNetwork" $op }}):
hostNetwork needs ClusterFirstWithHostNet to keep cluster DNS.
*/}}
{{- define "cairn.hostNetwork" -}}
{{- if .hostNetwork }}
hostNetwork: true
dnsPolicy: ClusterFirstWithHostNet
{{- end }}
{{- end }}

{{/*
The address a component's servers bind: the pod IP on the host network (the
node's other pods and daemons keep their ports), every address otherwise.
*/}}
{{- define "cairn.bindHost" -}}
{{- if .hostNetwork }}$(POD_IP){{ else }}0.0.0.0{{ end }}
{{- end }}

{{/*
The POD_IP variable the bind address refers to (hostNetwork only).
*/}}
{{- define "cairn.podIPEnv" -}}
{{- if .hostNetwork }}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
{{- end }}
{{- end }}
