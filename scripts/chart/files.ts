/** The chart's hand-written parts: NOTES.txt, values validation, .helmignore, Argo CD examples. */
import { stringify } from 'yaml';

export const VALIDATION = `
{{/* Cross-field rules the schema cannot express; each failure names the keys to set. */}}
{{- define "parley.validateValues" -}}
{{- $errors := list -}}
{{- $k := .Values.kafka -}}
{{- if gt (int $k.minInsyncReplicas) (int $k.replicationFactor) -}}
{{- $errors = append $errors (printf "kafka.minInsyncReplicas (%d) exceeds kafka.replicationFactor (%d): set kafka.minInsyncReplicas and kafka.replicationFactor" (int $k.minInsyncReplicas) (int $k.replicationFactor)) -}}
{{- end -}}
{{- if gt (int $k.replicationFactor) (int $k.replicaCount) -}}
{{- $errors = append $errors (printf "kafka.replicationFactor (%d) exceeds kafka.replicaCount (%d): set kafka.replicationFactor and kafka.replicaCount" (int $k.replicationFactor) (int $k.replicaCount)) -}}
{{- end -}}
{{- $r := .Values.redis -}}
{{- if ne 0 (mod (int $r.nodes) (add 1 (int $r.replicasPerMaster))) -}}
{{- $errors = append $errors (printf "redis.nodes (%d) is not a multiple of 1 + redis.replicasPerMaster (%d): set redis.nodes and redis.replicasPerMaster" (int $r.nodes) (int $r.replicasPerMaster)) -}}
{{- else if lt (div (int $r.nodes) (add 1 (int $r.replicasPerMaster))) 3 -}}
{{- $errors = append $errors (printf "redis.nodes (%d) gives fewer than 3 masters: set redis.nodes and redis.replicasPerMaster" (int $r.nodes)) -}}
{{- end -}}
{{- if eq 0 (mod (int .Values.mongodb.replicaCount) 2) -}}
{{- $errors = append $errors (printf "mongodb.replicaCount (%d) must be odd: set mongodb.replicaCount" (int .Values.mongodb.replicaCount)) -}}
{{- end -}}
{{- $a := .Values.message.api.autoscaling -}}
{{- if gt (int $a.minReplicas) (int $a.maxReplicas) -}}
{{- $errors = append $errors "message.api.autoscaling.minReplicas exceeds maxReplicas: set message.api.autoscaling.minReplicas and message.api.autoscaling.maxReplicas" -}}
{{- end -}}
{{- $w := .Values.message.worker.autoscaler -}}
{{- if gt (int $w.minReplicas) (int $w.maxReplicas) -}}
{{- $errors = append $errors "message.worker.autoscaler.minReplicas exceeds maxReplicas: set message.worker.autoscaler.minReplicas and message.worker.autoscaler.maxReplicas" -}}
{{- end -}}
{{- $m := .Values.message.media -}}
{{- if and (not $m.s3.bucket) (gt (int $m.replicaCount) 1) -}}
{{- $errors = append $errors (printf "message.media.replicaCount (%d) needs object storage, the disk store is one volume: set message.media.s3.bucket or message.media.replicaCount=1" (int $m.replicaCount)) -}}
{{- end -}}
{{- if and $m.s3.bucket (not $m.s3.existingSecret) -}}
{{- $errors = append $errors "message.media.s3.bucket needs credentials: set message.media.s3.existingSecret (keys access-key-id, secret-access-key)" -}}
{{- end -}}
{{- if and .Values.ingress.tls.enabled (not .Values.ingress.tls.secretName) -}}
{{- $errors = append $errors "ingress.tls.enabled needs a Secret: set ingress.tls.secretName" -}}
{{- end -}}
{{- if $errors -}}
{{- fail (printf "\\nVALUES VALIDATION:\\n%s" (join "\\n" $errors)) -}}
{{- end -}}
{{- end -}}
`;

export const NOTES = `Parley {{ .Chart.AppVersion }} is installing as release {{ .Release.Name }} in namespace {{ .Release.Namespace }}.

1. Wait for the backends and services (the first start formats Kafka, forms the Redis Cluster
   and initiates the MongoDB replica set; a few minutes on a laptop):

     kubectl -n {{ .Release.Namespace }} get pods -w
     kubectl -n {{ .Release.Namespace }} wait --for=condition=complete job -l app.kubernetes.io/instance={{ .Release.Name }} --timeout=10m

2. Check it end to end (two users exchange a message through the Services):

     helm test {{ .Release.Name }} -n {{ .Release.Namespace }}
{{- if .Values.ingress.enabled }}

3. Reach the API through the ingress:

     curl -s {{ if .Values.ingress.tls.enabled }}https{{ else }}http{{ end }}://{{ .Values.ingress.host }}/v1/openapi.json | head -c 200
     WebSocket: {{ if .Values.ingress.tls.enabled }}wss{{ else }}ws{{ end }}://{{ .Values.ingress.host }}/v1/ws
{{- else }}

3. Reach the API with a port-forward:

     kubectl -n {{ .Release.Namespace }} port-forward svc/{{ include "parley.fullname" . }}-message-api 8080:8080
{{- end }}

Credentials were generated in the cluster unless you named existing Secrets; they are kept on
uninstall, with the data volumes. Twilio SMS and GitHub sign-in stay off until the Secrets
{{ .Values.auth.twilio.existingSecret | default (printf "%s-twilio" (include "parley.fullname" .)) }} and {{ .Values.auth.github.existingSecret | default (printf "%s-github" (include "parley.fullname" .)) }} exist.
{{- if .Values.kafkaUi.enabled }}

Kafka UI: kubectl -n {{ .Release.Namespace }} port-forward svc/{{ include "parley.fullname" . }}-kafka-ui 8081:8080
{{- end }}
{{- if and (or .Values.metrics.serviceMonitor .Values.metrics.prometheusRule) (not (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1")) }}

WARNING: metrics.serviceMonitor / metrics.prometheusRule are set, but this cluster has no
monitoring.coreos.com/v1 API (the Prometheus Operator's CRDs), so no ServiceMonitor or
PrometheusRule was created. Install the Prometheus Operator, then run \`helm upgrade\` again.
{{- end }}

CRDs (Topic, ConsumerAutoscaler) come from the chart's crds/ directory: helm installs them once and
never upgrades them. Before upgrading to a chart with changed CRDs:

     kubectl apply --server-side --force-conflicts -f charts/parley/crds/
`;

export const HELMIGNORE = `.DS_Store
.git/
*.swp
*.tmp
ci/
`;

/** An Argo CD Application deploying Parley from this repository (edit repoURL). */
function argoApplication(
  comment: string,
  name: string,
  source: Record<string, unknown>,
  syncOptions: string[],
): string {
  const app = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace: 'argocd' },
    spec: {
      project: 'default',
      source: { repoURL: 'https://github.com/example/parley.git', targetRevision: 'main', ...source },
      destination: { server: 'https://kubernetes.default.svc', namespace: 'parley' },
      syncPolicy: {
        automated: { prune: true, selfHeal: true },
        syncOptions: ['CreateNamespace=true', ...syncOptions],
      },
    },
  };
  return `${comment}\n${stringify(app)}`;
}

export const ARGOCD_HELM = argoApplication(
  '# Argo CD Application installing the chart from this repository (edit repoURL and the profile).',
  'parley',
  { path: 'charts/parley', helm: { releaseName: 'parley', valueFiles: ['values-production.yaml'] } },
  ['ServerSideApply=true'],
);

export const ARGOCD_MANIFESTS = argoApplication(
  '# Argo CD Application syncing the plain manifests (`npm run synth`, committed in charts/manifests).\n' +
    '# Jobs carry the revision in their name (…-r1); Replace lets a changed Job be recreated.',
  'parley-manifests',
  { path: 'charts/manifests', directory: { include: 'parley.yaml' } },
  // The CRDs and the Topics that need them are in one file: skip the dry run of a kind whose CRD
  // this same sync creates.
  ['Replace=true', 'SkipDryRunOnMissingResource=true'],
);
