/**
 * The platform-agnostic services of effect-lxd, one namespace per module
 * (`import { Instances, Lxd } from "@effect-lxd/core"`). A transport comes from `@effect-lxd/node` or
 * `@effect-lxd/testing`.
 *
 * @since 0.1.0
 */

/**
 * Trusted certificates, trust tokens, authentication.
 *
 * @since 0.1.0
 */
export * as Certificates from "./Certificates.js"

/**
 * The cluster: enable, join, member-specific config, the cluster certificate.
 *
 * @since 0.2.0
 */
export * as Cluster from "./Cluster.js"

/**
 * Cluster groups: named sets of members for placement (`target=@group`), and membership.
 *
 * @since 0.2.0
 */
export * as ClusterGroups from "./ClusterGroups.js"

/**
 * Cluster members: list, change, rename, remove, evacuate and restore, join tokens.
 *
 * @since 0.2.0
 */
export * as ClusterMembers from "./ClusterMembers.js"

/**
 * The cluster's members as OpenStack Cinder's clusters API shows services: up/down, enabled/disabled with a
 * reason (disable = evacuate, enable = restore).
 *
 * @since 0.2.0
 */
export * as ClusterServices from "./ClusterServices.js"

/**
 * LXD containers: the instances service restricted to containers.
 *
 * @since 0.1.0
 */
export * as Containers from "./Containers.js"

/**
 * LXD events as streams.
 *
 * @since 0.1.0
 */
export * as Events from "./Events.js"

/**
 * Running commands in instances.
 *
 * @since 0.1.0
 */
export * as Exec from "./Exec.js"

/**
 * Files inside instances: streamed reads and writes, directories, symlinks.
 *
 * @since 0.1.0
 */
export * as Files from "./Files.js"

/**
 * Images and their aliases: list, read, change, delete, refresh, and export and upload streamed and checked
 * against the fingerprint.
 *
 * @since 0.2.0
 */
export * as Images from "./Images.js"

/**
 * The schemas of instances and their parts (re-exported by `Instances`).
 *
 * @since 0.2.0
 */
export * as InstanceSchema from "./InstanceSchema.js"

/**
 * LXD instances: containers and virtual machines, their whole lifecycle.
 *
 * @since 0.1.0
 */
export * as Instances from "./Instances.js"

/**
 * Every service in one layer.
 *
 * @since 0.1.0
 */
export * as Lxd from "./Lxd.js"

/**
 * The request engine.
 *
 * @since 0.1.0
 */
export * as LxdClient from "./LxdClient.js"

/**
 * The error family.
 *
 * @since 0.1.0
 */
export * as LxdError from "./LxdError.js"

/**
 * The shape every LXD collection shares: one `Spec` per collection, read by the client, the fake and the tests.
 *
 * @since 0.2.0
 */
export * as LxdResource from "./LxdResource.js"

/**
 * Shared wire types.
 *
 * @since 0.1.0
 */
export * as LxdSchema from "./LxdSchema.js"

/**
 * The transport interface.
 *
 * @since 0.1.0
 */
export * as LxdTransport from "./LxdTransport.js"

/**
 * Metrics: OpenMetrics text parsed into typed samples.
 *
 * @since 0.2.0
 */
export * as Metrics from "./Metrics.js"

/**
 * Copying and moving instances and images between servers.
 *
 * @since 0.1.0
 */
export * as Migration from "./Migration.js"

/**
 * LXD networks: bridges and the other managed kinds, their state and DHCP leases.
 *
 * @since 0.2.0
 */
export * as Networks from "./Networks.js"

/**
 * Network forwards: listen addresses forwarded to instances, port by port.
 *
 * @since 0.2.0
 */
export * as NetworkForwards from "./NetworkForwards.js"

/**
 * Network ACLs: ingress and egress rules for networks and instance NICs, and their log.
 *
 * @since 0.2.0
 */
export * as NetworkAcls from "./NetworkAcls.js"

/**
 * Network zones: DNS zones LXD serves for its networks.
 *
 * @since 0.2.0
 */
export * as NetworkZones from "./NetworkZones.js"

/**
 * Records of a network zone.
 *
 * @since 0.2.0
 */
export * as NetworkZoneRecords from "./NetworkZoneRecords.js"

/**
 * Network peers: routes between OVN networks.
 *
 * @since 0.2.0
 */
export * as NetworkPeers from "./NetworkPeers.js"

/**
 * Network load balancers: listen addresses spread over backends (OVN).
 *
 * @since 0.2.0
 */
export * as NetworkLoadBalancers from "./NetworkLoadBalancers.js"

/**
 * Background operations.
 *
 * @since 0.1.0
 */
export * as Operations from "./Operations.js"

/**
 * Profiles: named sets of config and devices.
 *
 * @since 0.2.0
 */
export * as Profiles from "./Profiles.js"

/**
 * Projects: namespaces of instances, images, profiles, volumes and networks, and their usage.
 *
 * @since 0.2.0
 */
export * as Projects from "./Projects.js"

/**
 * The SHA-256 that image exports and uploads are checked with (a reference; Node provides its native one).
 *
 * @since 0.2.0
 */
export * as Sha256 from "./Sha256.js"

/**
 * Server information and configuration.
 *
 * @since 0.1.0
 */
export * as Server from "./Server.js"

/**
 * Storage pools: where instances, images and volumes are stored, and their space.
 *
 * @since 0.2.0
 */
export * as StoragePools from "./StoragePools.js"

/**
 * Storage volumes, their snapshots and backups; copies, moves, attaching to instances.
 *
 * @since 0.2.0
 */
export * as StorageVolumes from "./StorageVolumes.js"

/**
 * LXD virtual machines: the instances service restricted to virtual machines.
 *
 * @since 0.1.0
 */
export * as VirtualMachines from "./VirtualMachines.js"

/**
 * Warnings LXD noticed: list, acknowledge, delete.
 *
 * @since 0.2.0
 */
export * as Warnings from "./Warnings.js"
