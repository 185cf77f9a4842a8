// The protobuf message definitions skiff decodes, transcribed from the field numbers in
// k8s.io/api's and k8s.io/apimachinery's generated.proto (kubectl 1.32 era). Only what kubectl's
// imperative commands send is needed; the Pod spec is covered widely because `kubectl run`
// overrides can carry most of it. Fields missing here are skipped by the decoder, so a gap drops
// a field instead of failing the request.
#include <vector>

#include "apiserver/protobuf.h"

namespace skiff::apiserver {

namespace {
// Nested messages, which are never a request body on their own.
constexpr std::string_view kNested = "-";
}  // namespace

const std::vector<ProtoMessageDef>& ProtoMessageTable() {
  static const std::vector<ProtoMessageDef> table = {
      // ---- meta/v1 (k8s.io/apimachinery/pkg/apis/meta/v1) ----
      {"ObjectMeta", kNested,
       "1 name string; 2 generateName string; 3 namespace string; 4 selfLink string; 5 uid string; "
       "6 resourceVersion string; 7 generation int64; 8 creationTimestamp Time; "
       "9 deletionTimestamp Time; 10 deletionGracePeriodSeconds int64*; 11 labels map<string>; "
       "12 annotations map<string>; 13 ownerReferences []OwnerReference; 14 finalizers []string; "
       "17 managedFields []ManagedFieldsEntry"},
      {"OwnerReference", kNested,
       "5 apiVersion string*; 1 kind string*; 3 name string*; 4 uid string*; 6 controller bool*; "
       "7 blockOwnerDeletion bool*"},
      {"ManagedFieldsEntry", kNested,
       "1 manager string; 2 operation string; 3 apiVersion string; 4 time Time; "
       "6 fieldsType string; 7 fieldsV1 FieldsV1; 8 subresource string"},
      {"LabelSelector", kNested,
       "1 matchLabels map<string>; 2 matchExpressions []LabelSelectorRequirement"},
      {"LabelSelectorRequirement", kNested, "1 key string*; 2 operator string*; 3 values []string"},

      // ---- core/v1 ----
      {"ConfigMap", "",
       "1 metadata ObjectMeta; 4 immutable bool*; 2 data map<string>; 3 binaryData map<bytes>"},
      {"Secret", "",
       "1 metadata ObjectMeta; 5 immutable bool*; 2 data map<bytes>; 4 stringData map<string>; "
       "3 type string"},
      {"Namespace", "", "1 metadata ObjectMeta; 2 spec NamespaceSpec; 3 status NamespaceStatus"},
      {"NamespaceSpec", kNested, "1 finalizers []string"},
      {"NamespaceStatus", kNested, "1 phase string; 2 conditions []NamespaceCondition"},
      {"NamespaceCondition", kNested,
       "1 type string*; 2 status string*; 4 lastTransitionTime Time; 5 reason string; "
       "6 message string"},
      {"ServiceAccount", "",
       "1 metadata ObjectMeta; 2 secrets []ObjectReference; "
       "3 imagePullSecrets []LocalObjectReference; 4 automountServiceAccountToken bool*"},
      {"ObjectReference", kNested,
       "1 kind string; 2 namespace string; 3 name string; 4 uid string; 5 apiVersion string; "
       "6 resourceVersion string; 7 fieldPath string"},
      {"LocalObjectReference", kNested, "1 name string"},
      {"ResourceQuota", "",
       "1 metadata ObjectMeta; 2 spec ResourceQuotaSpec; 3 status ResourceQuotaStatus"},
      {"ResourceQuotaSpec", kNested,
       "1 hard map<Quantity>; 2 scopes []string; 3 scopeSelector ScopeSelector"},
      {"ScopeSelector", kNested, "1 matchExpressions []ScopedResourceSelectorRequirement"},
      {"ScopedResourceSelectorRequirement", kNested,
       "1 scopeName string*; 2 operator string*; 3 values []string"},
      {"ResourceQuotaStatus", kNested, "1 hard map<Quantity>; 2 used map<Quantity>"},
      {"Service", "", "1 metadata ObjectMeta; 2 spec ServiceSpec"},
      {"ServiceSpec", kNested,
       "1 ports []ServicePort; 2 selector map<string>; 3 clusterIP string; 18 clusterIPs []string; "
       "4 type string; 5 externalIPs []string; 7 sessionAffinity string; 8 loadBalancerIP string; "
       "9 loadBalancerSourceRanges []string; 10 externalName string; "
       "11 externalTrafficPolicy string; 12 healthCheckNodePort int32; "
       "13 publishNotReadyAddresses bool; 19 ipFamilies []string; 17 ipFamilyPolicy string*; "
       "20 allocateLoadBalancerNodePorts bool*; 21 loadBalancerClass string*; "
       "22 internalTrafficPolicy string*; 23 trafficDistribution string*"},
      {"ServicePort", kNested,
       "1 name string; 2 protocol string; 6 appProtocol string*; 3 port int32*; "
       "4 targetPort IntOrString; 5 nodePort int32"},

      // Pods.
      {"Pod", "", "1 metadata ObjectMeta; 2 spec PodSpec"},
      {"PodTemplateSpec", kNested, "1 metadata ObjectMeta; 2 spec PodSpec"},
      {"PodSpec", kNested,
       "1 volumes []Volume; 20 initContainers []Container; 2 containers []Container; "
       "34 ephemeralContainers []EphemeralContainer; 3 restartPolicy string; "
       "4 terminationGracePeriodSeconds int64*; 5 activeDeadlineSeconds int64*; "
       "6 dnsPolicy string; 7 nodeSelector map<string>; 8 serviceAccountName string; "
       "9 serviceAccount string; 21 automountServiceAccountToken bool*; 10 nodeName string; "
       "11 hostNetwork bool; 12 hostPID bool; 13 hostIPC bool; 27 shareProcessNamespace bool*; "
       "14 securityContext PodSecurityContext; 15 imagePullSecrets []LocalObjectReference; "
       "16 hostname string; 17 subdomain string; 18 affinity Affinity; 19 schedulerName string; "
       "22 tolerations []Toleration; 23 hostAliases []HostAlias; 24 priorityClassName string; "
       "25 priority int32*; 26 dnsConfig PodDNSConfig; 28 readinessGates []PodReadinessGate; "
       "29 runtimeClassName string*; 30 enableServiceLinks bool*; 31 preemptionPolicy string*; "
       "32 overhead map<Quantity>; 33 topologySpreadConstraints []TopologySpreadConstraint; "
       "35 setHostnameAsFQDN bool*; 36 os PodOS; 37 hostUsers bool*; "
       "38 schedulingGates []PodSchedulingGate"},
      {"PodOS", kNested, "1 name string*"},
      {"PodSchedulingGate", kNested, "1 name string*"},
      {"PodReadinessGate", kNested, "1 conditionType string*"},
      {"Container", kNested,
       "1 name string*; 2 image string; 3 command []string; 4 args []string; 5 workingDir string; "
       "6 ports []ContainerPort; 19 envFrom []EnvFromSource; 7 env []EnvVar; "
       "8 resources ResourceRequirements; 23 resizePolicy []ContainerResizePolicy; "
       "24 restartPolicy string*; 9 volumeMounts []VolumeMount; 21 volumeDevices []VolumeDevice; "
       "10 livenessProbe Probe; 11 readinessProbe Probe; 22 startupProbe Probe; "
       "12 lifecycle Lifecycle; 13 terminationMessagePath string; "
       "20 terminationMessagePolicy string; 14 imagePullPolicy string; "
       "15 securityContext SecurityContext; 16 stdin bool; 17 stdinOnce bool; 18 tty bool"},
      // EphemeralContainerCommon uses Container's field numbers and is embedded inline.
      {"EphemeralContainer", kNested, "1 - Container; 2 targetContainerName string"},
      {"ContainerPort", kNested,
       "1 name string; 2 hostPort int32; 3 containerPort int32*; 4 protocol string; "
       "5 hostIP string"},
      {"ContainerResizePolicy", kNested, "1 resourceName string*; 2 restartPolicy string*"},
      {"EnvVar", kNested, "1 name string*; 2 value string; 3 valueFrom EnvVarSource"},
      {"EnvVarSource", kNested,
       "1 fieldRef ObjectFieldSelector; 2 resourceFieldRef ResourceFieldSelector; "
       "3 configMapKeyRef ConfigMapKeySelector; 4 secretKeyRef SecretKeySelector"},
      {"ObjectFieldSelector", kNested, "1 apiVersion string; 2 fieldPath string*"},
      {"ResourceFieldSelector", kNested,
       "1 containerName string; 2 resource string*; 3 divisor Quantity"},
      {"ConfigMapKeySelector", kNested,
       "1 - LocalObjectReference; 2 key string*; 3 optional bool*"},
      {"SecretKeySelector", kNested, "1 - LocalObjectReference; 2 key string*; 3 optional bool*"},
      {"EnvFromSource", kNested,
       "1 prefix string; 2 configMapRef ConfigMapEnvSource; 3 secretRef SecretEnvSource"},
      {"ConfigMapEnvSource", kNested, "1 - LocalObjectReference; 2 optional bool*"},
      {"SecretEnvSource", kNested, "1 - LocalObjectReference; 2 optional bool*"},
      {"ResourceRequirements", kNested,
       "1 limits map<Quantity>; 2 requests map<Quantity>; 3 claims []ResourceClaim"},
      {"ResourceClaim", kNested, "1 name string*; 2 request string"},
      {"VolumeMount", kNested,
       "1 name string*; 2 readOnly bool; 7 recursiveReadOnly string*; 3 mountPath string*; "
       "4 subPath string; 5 mountPropagation string*; 6 subPathExpr string"},
      {"VolumeDevice", kNested, "1 name string*; 2 devicePath string*"},
      {"Volume", kNested, "1 name string*; 2 - VolumeSource"},
      {"VolumeSource", kNested,
       "1 hostPath HostPathVolumeSource; 2 emptyDir EmptyDirVolumeSource; "
       "6 secret SecretVolumeSource; 7 nfs NFSVolumeSource; "
       "10 persistentVolumeClaim PersistentVolumeClaimVolumeSource; "
       "16 downwardAPI DownwardAPIVolumeSource; 19 configMap ConfigMapVolumeSource; "
       "26 projected ProjectedVolumeSource; 28 csi CSIVolumeSource; 30 image ImageVolumeSource"},
      {"HostPathVolumeSource", kNested, "1 path string*; 2 type string*"},
      {"EmptyDirVolumeSource", kNested, "1 medium string; 2 sizeLimit Quantity*"},
      {"SecretVolumeSource", kNested,
       "1 secretName string; 2 items []KeyToPath; 3 defaultMode int32*; 4 optional bool*"},
      {"ConfigMapVolumeSource", kNested,
       "1 - LocalObjectReference; 2 items []KeyToPath; 3 defaultMode int32*; 4 optional bool*"},
      {"KeyToPath", kNested, "1 key string*; 2 path string*; 3 mode int32*"},
      {"PersistentVolumeClaimVolumeSource", kNested, "1 claimName string*; 2 readOnly bool"},
      {"NFSVolumeSource", kNested, "1 server string*; 2 path string*; 3 readOnly bool"},
      {"DownwardAPIVolumeSource", kNested, "1 items []DownwardAPIVolumeFile; 2 defaultMode int32*"},
      {"DownwardAPIVolumeFile", kNested,
       "1 path string*; 2 fieldRef ObjectFieldSelector; 3 resourceFieldRef ResourceFieldSelector; "
       "4 mode int32*"},
      {"ProjectedVolumeSource", kNested, "1 sources []VolumeProjection; 2 defaultMode int32*"},
      {"VolumeProjection", kNested,
       "1 secret SecretProjection; 2 downwardAPI DownwardAPIProjection; "
       "3 configMap ConfigMapProjection; 4 serviceAccountToken ServiceAccountTokenProjection"},
      {"SecretProjection", kNested,
       "1 - LocalObjectReference; 2 items []KeyToPath; 4 optional bool*"},
      {"ConfigMapProjection", kNested,
       "1 - LocalObjectReference; 2 items []KeyToPath; 4 optional bool*"},
      {"DownwardAPIProjection", kNested, "1 items []DownwardAPIVolumeFile"},
      {"ServiceAccountTokenProjection", kNested,
       "1 audience string; 2 expirationSeconds int64*; 3 path string*"},
      {"CSIVolumeSource", kNested,
       "1 driver string*; 2 readOnly bool*; 3 fsType string*; 4 volumeAttributes map<string>; "
       "5 nodePublishSecretRef LocalObjectReference"},
      {"ImageVolumeSource", kNested, "1 reference string; 2 pullPolicy string"},
      {"Probe", kNested,
       "1 - ProbeHandler; 2 initialDelaySeconds int32; 3 timeoutSeconds int32; "
       "4 periodSeconds int32; 5 successThreshold int32; 6 failureThreshold int32; "
       "7 terminationGracePeriodSeconds int64*"},
      {"ProbeHandler", kNested,
       "1 exec ExecAction; 2 httpGet HTTPGetAction; 3 tcpSocket TCPSocketAction; "
       "4 grpc GRPCAction"},
      {"ExecAction", kNested, "1 command []string"},
      {"HTTPGetAction", kNested,
       "1 path string; 2 port IntOrString*; 3 host string; 4 scheme string; "
       "5 httpHeaders []HTTPHeader"},
      {"HTTPHeader", kNested, "1 name string*; 2 value string*"},
      {"TCPSocketAction", kNested, "1 port IntOrString*; 2 host string"},
      {"GRPCAction", kNested, "1 port int32*; 2 service string*"},
      {"Lifecycle", kNested,
       "1 postStart LifecycleHandler; 2 preStop LifecycleHandler; 3 stopSignal string*"},
      {"LifecycleHandler", kNested,
       "1 exec ExecAction; 2 httpGet HTTPGetAction; 3 tcpSocket TCPSocketAction; "
       "4 sleep SleepAction"},
      {"SleepAction", kNested, "1 seconds int64*"},
      {"SecurityContext", kNested,
       "1 capabilities Capabilities; 2 privileged bool*; 3 seLinuxOptions SELinuxOptions; "
       "10 windowsOptions WindowsSecurityContextOptions; 4 runAsUser int64*; "
       "8 runAsGroup int64*; 5 runAsNonRoot bool*; 6 readOnlyRootFilesystem bool*; "
       "7 allowPrivilegeEscalation bool*; 9 procMount string*; 11 seccompProfile SeccompProfile; "
       "12 appArmorProfile AppArmorProfile"},
      {"PodSecurityContext", kNested,
       "1 seLinuxOptions SELinuxOptions; 8 windowsOptions WindowsSecurityContextOptions; "
       "2 runAsUser int64*; 6 runAsGroup int64*; 3 runAsNonRoot bool*; "
       "4 supplementalGroups []int64; 12 supplementalGroupsPolicy string*; 5 fsGroup int64*; "
       "9 fsGroupChangePolicy string*; 7 sysctls []Sysctl; 10 seccompProfile SeccompProfile; "
       "11 appArmorProfile AppArmorProfile; 13 seLinuxChangePolicy string*"},
      {"Capabilities", kNested, "1 add []string; 2 drop []string"},
      {"SELinuxOptions", kNested, "1 user string; 2 role string; 3 type string; 4 level string"},
      {"WindowsSecurityContextOptions", kNested,
       "1 gmsaCredentialSpecName string*; 2 gmsaCredentialSpec string*; "
       "3 runAsUserName string*; 4 hostProcess bool*"},
      {"SeccompProfile", kNested, "1 type string*; 2 localhostProfile string*"},
      {"AppArmorProfile", kNested, "1 type string*; 2 localhostProfile string*"},
      {"Sysctl", kNested, "1 name string*; 2 value string*"},
      {"Toleration", kNested,
       "1 key string; 2 operator string; 3 value string; 4 effect string; "
       "5 tolerationSeconds int64*"},
      {"HostAlias", kNested, "1 ip string*; 2 hostnames []string"},
      {"PodDNSConfig", kNested,
       "1 nameservers []string; 2 searches []string; 3 options []PodDNSConfigOption"},
      {"PodDNSConfigOption", kNested, "1 name string; 2 value string*"},
      {"TopologySpreadConstraint", kNested,
       "1 maxSkew int32*; 2 topologyKey string*; 3 whenUnsatisfiable string*; "
       "4 labelSelector LabelSelector; 5 minDomains int32*; 6 nodeAffinityPolicy string*; "
       "7 nodeTaintsPolicy string*; 8 matchLabelKeys []string"},
      {"Affinity", kNested,
       "1 nodeAffinity NodeAffinity; 2 podAffinity PodAffinity; 3 podAntiAffinity PodAntiAffinity"},
      {"NodeAffinity", kNested,
       "1 requiredDuringSchedulingIgnoredDuringExecution NodeSelector; "
       "2 preferredDuringSchedulingIgnoredDuringExecution []PreferredSchedulingTerm"},
      {"NodeSelector", kNested, "1 nodeSelectorTerms []NodeSelectorTerm"},
      {"NodeSelectorTerm", kNested,
       "1 matchExpressions []NodeSelectorRequirement; 2 matchFields []NodeSelectorRequirement"},
      {"NodeSelectorRequirement", kNested, "1 key string*; 2 operator string*; 3 values []string"},
      {"PreferredSchedulingTerm", kNested, "1 weight int32*; 2 preference NodeSelectorTerm"},
      {"PodAffinity", kNested,
       "1 requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm; "
       "2 preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm"},
      {"PodAntiAffinity", kNested,
       "1 requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm; "
       "2 preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm"},
      {"WeightedPodAffinityTerm", kNested, "1 weight int32*; 2 podAffinityTerm PodAffinityTerm"},
      {"PodAffinityTerm", kNested,
       "1 labelSelector LabelSelector; 2 namespaces []string; 3 topologyKey string*; "
       "4 namespaceSelector LabelSelector; 5 matchLabelKeys []string; "
       "6 mismatchLabelKeys []string"},

      // ---- batch/v1 ----
      {"Job", "batch", "1 metadata ObjectMeta; 2 spec JobSpec"},
      {"JobSpec", kNested,
       "1 parallelism int32*; 2 completions int32*; 3 activeDeadlineSeconds int64*; "
       "11 podFailurePolicy PodFailurePolicy; 16 successPolicy SuccessPolicy; "
       "7 backoffLimit int32*; 12 backoffLimitPerIndex int32*; 13 maxFailedIndexes int32*; "
       "4 selector LabelSelector; 5 manualSelector bool*; 6 template PodTemplateSpec; "
       "8 ttlSecondsAfterFinished int32*; 9 completionMode string*; 10 suspend bool*; "
       "14 podReplacementPolicy string*; 15 managedBy string*"},
      {"PodFailurePolicy", kNested, "1 rules []PodFailurePolicyRule"},
      {"PodFailurePolicyRule", kNested,
       "1 action string*; 2 onExitCodes PodFailurePolicyOnExitCodesRequirement; "
       "3 onPodConditions []PodFailurePolicyOnPodConditionsPattern"},
      {"PodFailurePolicyOnExitCodesRequirement", kNested,
       "1 containerName string*; 2 operator string*; 3 values []int32"},
      {"PodFailurePolicyOnPodConditionsPattern", kNested, "1 type string*; 2 status string*"},
      {"SuccessPolicy", kNested, "1 rules []SuccessPolicyRule"},
      {"SuccessPolicyRule", kNested, "1 succeededIndexes string*; 2 succeededCount int32*"},

      // ---- rbac.authorization.k8s.io/v1 ----
      {"Role", "rbac.authorization.k8s.io", "1 metadata ObjectMeta; 2 rules []PolicyRule"},
      {"ClusterRole", "rbac.authorization.k8s.io",
       "1 metadata ObjectMeta; 2 rules []PolicyRule; 3 aggregationRule AggregationRule"},
      {"PolicyRule", kNested,
       "1 verbs []string; 2 apiGroups []string; 3 resources []string; 4 resourceNames []string; "
       "5 nonResourceURLs []string"},
      {"AggregationRule", kNested, "1 clusterRoleSelectors []LabelSelector"},
      {"RoleBinding", "rbac.authorization.k8s.io",
       "1 metadata ObjectMeta; 2 subjects []Subject; 3 roleRef RoleRef"},
      {"ClusterRoleBinding", "rbac.authorization.k8s.io",
       "1 metadata ObjectMeta; 2 subjects []Subject; 3 roleRef RoleRef"},
      {"Subject", kNested, "1 kind string*; 2 apiGroup string; 3 name string*; 4 namespace string"},
      {"RoleRef", kNested, "1 apiGroup string*; 2 kind string*; 3 name string*"},

      // ---- scheduling.k8s.io/v1 ----
      {"PriorityClass", "scheduling.k8s.io",
       "1 metadata ObjectMeta; 2 value int32*; 3 globalDefault bool; 4 description string; "
       "5 preemptionPolicy string*"},

      // ---- authorization.k8s.io/v1 and authentication.k8s.io/v1: `kubectl auth` ----
      {"SelfSubjectAccessReview", "authorization.k8s.io",
       "1 metadata ObjectMeta; 2 spec SelfSubjectAccessReviewSpec"},
      {"SelfSubjectAccessReviewSpec", kNested,
       "1 resourceAttributes ResourceAttributes; 2 nonResourceAttributes NonResourceAttributes"},
      {"ResourceAttributes", kNested,
       "1 namespace string; 2 verb string; 3 group string; 4 version string; 5 resource string; "
       "6 subresource string; 7 name string; 8 fieldSelector FieldSelectorAttributes; "
       "9 labelSelector LabelSelectorAttributes"},
      {"FieldSelectorAttributes", kNested,
       "1 rawSelector string; 2 requirements []FieldSelectorRequirement"},
      {"FieldSelectorRequirement", kNested, "1 key string*; 2 operator string*; 3 values []string"},
      {"LabelSelectorAttributes", kNested,
       "1 rawSelector string; 2 requirements []LabelSelectorRequirement"},
      {"NonResourceAttributes", kNested, "1 path string; 2 verb string"},
      {"SelfSubjectRulesReview", "authorization.k8s.io",
       "1 metadata ObjectMeta; 2 spec SelfSubjectRulesReviewSpec"},
      {"SelfSubjectRulesReviewSpec", kNested, "1 namespace string"},
      {"SelfSubjectReview", "authentication.k8s.io", "1 metadata ObjectMeta"},
  };
  return table;
}

}  // namespace skiff::apiserver
