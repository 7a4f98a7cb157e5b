/**
 * Every effect-lxd service in one layer, over a transport:
 * `Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket()))`.
 *
 * @since 0.1.0
 */
import * as Layer from "effect/Layer"
import * as Certificates from "./Certificates.js"
import * as Cluster from "./Cluster.js"
import * as ClusterGroups from "./ClusterGroups.js"
import * as ClusterMembers from "./ClusterMembers.js"
import * as ClusterServices from "./ClusterServices.js"
import * as Containers from "./Containers.js"
import * as Events from "./Events.js"
import * as Exec from "./Exec.js"
import * as Files from "./Files.js"
import * as Images from "./Images.js"
import * as Instances from "./Instances.js"
import * as LxdClient from "./LxdClient.js"
import type { LxdTransport } from "./LxdTransport.js"
import * as Metrics from "./Metrics.js"
import * as NetworkAcls from "./NetworkAcls.js"
import * as NetworkForwards from "./NetworkForwards.js"
import * as NetworkLoadBalancers from "./NetworkLoadBalancers.js"
import * as NetworkPeers from "./NetworkPeers.js"
import * as Networks from "./Networks.js"
import * as NetworkZoneRecords from "./NetworkZoneRecords.js"
import * as NetworkZones from "./NetworkZones.js"
import * as Operations from "./Operations.js"
import * as Profiles from "./Profiles.js"
import * as Projects from "./Projects.js"
import * as Server from "./Server.js"
import * as StoragePools from "./StoragePools.js"
import * as StorageVolumes from "./StorageVolumes.js"
import * as VirtualMachines from "./VirtualMachines.js"
import * as Warnings from "./Warnings.js"

/**
 * @since 0.1.0
 * @category models
 */
export type Services =
  | LxdClient.LxdClient
  | Server.Server
  | Operations.Operations
  | Events.Events
  | Exec.Exec
  | Certificates.Certificates
  | Cluster.Cluster
  | ClusterGroups.ClusterGroups
  | ClusterMembers.ClusterMembers
  | ClusterServices.ClusterServices
  | Instances.Instances
  | Containers.Containers
  | Files.Files
  | Profiles.Profiles
  | Projects.Projects
  | Warnings.Warnings
  | Metrics.Metrics
  | Networks.Networks
  | NetworkForwards.NetworkForwards
  | NetworkAcls.NetworkAcls
  | NetworkZones.NetworkZones
  | NetworkZoneRecords.NetworkZoneRecords
  | NetworkPeers.NetworkPeers
  | NetworkLoadBalancers.NetworkLoadBalancers
  | VirtualMachines.VirtualMachines
  | StoragePools.StoragePools
  | StorageVolumes.StorageVolumes
  | Images.Images

/**
 * All resource services over the engine in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWithoutClient: Layer.Layer<Exclude<Services, LxdClient.LxdClient>, never, LxdClient.LxdClient> = Layer
  .mergeAll(
    Server.layer,
    Operations.layer,
    Events.layer,
    Exec.layer,
    Certificates.layer,
    Cluster.layer,
    ClusterGroups.layer,
    ClusterMembers.layer,
    ClusterServices.layer,
    Instances.layer,
    Containers.layer,
    Files.layer,
    Profiles.layer,
    Projects.layer,
    Warnings.layer,
    Metrics.layer,
    Networks.layer,
    NetworkForwards.layer,
    NetworkAcls.layer,
    NetworkZones.layer,
    NetworkZoneRecords.layer,
    NetworkPeers.layer,
    NetworkLoadBalancers.layer,
    VirtualMachines.layer,
    StoragePools.layer,
    StorageVolumes.layer,
    Images.layer
  )

/**
 * All services for an engine you already hold (`LxdClient.connect`), e.g. to work on a second server:
 * `Effect.provide(program, Lxd.layerFromClient(target))`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromClient = (client: LxdClient.LxdClient.Service): Layer.Layer<Services> =>
  layerWithoutClient.pipe(Layer.provideMerge(Layer.succeed(LxdClient.LxdClient, client)))

/**
 * All services, needing only a transport.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Services, never, LxdTransport> = layerWithoutClient.pipe(
  Layer.provideMerge(LxdClient.layer)
)
