/**
 * Every collection the client has, with what its spec cannot say (samples as LXD 5.0.2 sends them, names):
 * read by `collections.test.ts` (the checklist of STYLE §12 per collection) and `fastDecode.test.ts` (the fast
 * decoder agrees with Schema on each spec's schemas). Adding a collection is one entry here.
 */
import {
  Certificates,
  ClusterGroups,
  ClusterMembers,
  Images,
  LxdClient,
  LxdResource,
  NetworkAcls,
  NetworkForwards,
  NetworkLoadBalancers,
  NetworkPeers,
  Networks,
  NetworkZoneRecords,
  NetworkZones,
  Profiles,
  Projects,
  StoragePools,
  StorageVolumes,
  Warnings
} from "@effect-lxd/core"
import { Effect } from "effect"
import * as Collection from "../../src/internal/collection.js"
import { type AnySpec, collectionSuite, type Fixture } from "./collectionSuite.js"

/** A collection, its types erased so that different ones fit in one list. */
export interface Entry {
  readonly spec: AnySpec
  readonly item: Readonly<Record<string, unknown>>
  readonly post: unknown
  /** Valid names of the parents, as the fixture has them (a volume type must be one LXD knows). */
  readonly parents: ReadonlyArray<string>
  /** Declares its suite. */
  readonly suite: () => void
}

const entry = <S extends AnySpec>(spec: S, fixture: Fixture<S>): Entry => ({
  spec,
  item: fixture.item,
  post: fixture.post,
  parents: fixture.parents,
  suite: () => collectionSuite(spec, fixture)
})

/**
 * Not an LXD collection: profiles' schemas two parents deep, behind an extension, with a filter — the branches
 * (parent names, gating, filter) that no shipped spec takes yet. Drop it once instance snapshots or storage
 * volumes are specs.
 */
const nested = LxdResource.spec({
  name: "Nested",
  path: "/instances/{instance}/pools/{pool}/things",
  parents: ["instance", "storage pool"],
  kind: "snapshot",
  item: Profiles.Profile,
  post: Profiles.ProfilesPost,
  put: Profiles.ProfilePut,
  extension: "nested_things",
  filter: "api_filtering"
})

const profile = (name: string) => ({
  config: { "limits.memory": "1GiB" },
  description: "Default LXD profile",
  devices: {
    eth0: { name: "eth0", network: "lxdbr0", type: "nic" },
    root: { path: "/", pool: "default", type: "disk" }
  },
  name,
  used_by: ["/1.0/instances/c1", "/1.0/instances/c2?project=other"]
})

export const collections: ReadonlyArray<Entry> = [
  entry(Profiles.spec, {
    make: Profiles.make,
    // `GET /1.0/profiles/default` on LXD 5.0.2 (no `project` field yet)
    item: profile("dev+café"),
    post: { name: "dev+café", description: "a profile", config: { "limits.cpu": "2" }, devices: {} },
    parents: [],
    name: "dev+café",
    newName: "dev-2",
    invalidName: "two words"
  }),
  entry(Projects.spec, {
    make: Projects.make,
    // `GET /1.0/projects/dev` on LXD 5.0.2
    item: {
      config: {
        "features.images": "true",
        "features.networks": "false",
        "features.profiles": "true",
        "features.storage.volumes": "true"
      },
      description: "Development",
      name: "dev+café",
      used_by: ["/1.0/profiles/default?project=dev%2Bcaf%C3%A9"]
    },
    post: { name: "dev+café", description: "a project", config: { "features.images": "false" } },
    parents: [],
    name: "dev+café",
    newName: "dev-2",
    invalidName: "two words"
  }),
  entry(Warnings.spec, {
    make: Warnings.make,
    // `GET /1.0/warnings/{uuid}` on LXD 5.0.2
    item: {
      uuid: "1b3c8a9e-52f3-4a43-9d2c-4c8e1f0e9a01",
      status: "new",
      severity: "low",
      type: "Couldn't find the CGroup network priority controller",
      count: 1,
      first_seen_at: "2026-11-30T10:00:00.123456789Z",
      last_seen_at: "2026-11-30T10:05:00.5Z",
      last_message: "per-instance network priority will be ignored. Please use per-device limits.priority instead",
      entity_url: "",
      location: "none",
      project: ""
    },
    post: { status: "new" }, // LXD has no create
    parents: [],
    name: "1b3c8a9e-52f3-4a43-9d2c-4c8e1f0e9a01",
    newName: "7d2e4c1a-0b5f-4e8a-a1c3-9f6e2d8b7a02",
    invalidName: "not a uuid"
  }),
  entry(ClusterMembers.spec, {
    make: ClusterMembers.make,
    // `GET /1.0/cluster/members/m2` on LXD 5.0.2 (a three-member loopback cluster)
    item: {
      architecture: "x86_64",
      config: { "scheduler.instance": "all" },
      database: true,
      description: "",
      failure_domain: "default",
      groups: ["default"],
      message: "Fully operational",
      roles: ["database"],
      server_name: "m2+café",
      status: "Online",
      url: "https://127.0.0.1:18762"
    },
    post: { server_name: "m2+café" }, // LXD has no create: a member joins with a token
    parents: [],
    name: "m2+café",
    newName: "m-2",
    invalidName: "a/b"
  }),
  entry(ClusterGroups.spec, {
    make: ClusterGroups.make,
    // `GET /1.0/cluster/groups/gpu` on LXD 5.0.2 (a three-member loopback cluster; no `used_by` yet)
    item: { description: "gpu", members: ["m2", "m3"], name: "gpu+café" },
    post: { name: "gpu+café", description: "gpu", members: ["m2"] },
    parents: [],
    name: "gpu+café",
    newName: "gpu-2",
    invalidName: "two words"
  }),
  entry(Certificates.spec, {
    make: Certificates.make,
    // `GET /1.0/certificates/{fingerprint}` on LXD 5.0.2 (no `description` yet)
    item: {
      name: "ci",
      type: "client",
      restricted: true,
      projects: ["dev"],
      certificate: "-----BEGIN CERTIFICATE-----\nQUJD\nREVG\n-----END CERTIFICATE-----\n",
      fingerprint: "3f1c7a2b9d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"
    },
    post: { certificate: "-----BEGIN CERTIFICATE-----\nQUJD\nREVG\n-----END CERTIFICATE-----\n", name: "ci" },
    // what LXD wants: base64 DER, a type
    postSent: { certificate: "QUJDREVG", name: "ci", type: "client" },
    parents: [],
    name: "3f1c7a2b9d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8",
    // SHA-256 of the DER above: the fingerprint a create names when LXD gives no Location
    newName: "e9c0f8b575cbfcb42ab3b78ecc87efa3b011d9a5d10b09fa4e96f240bf6a82f5",
    invalidName: "not-hex"
  }),
  // networks: samples as LXD 5.0.2 answered them on the lab (peers and load balancers: as the spec has them)
  entry(Networks.spec, {
    make: Networks.make,
    item: {
      config: { "ipv4.address": "10.213.0.1/24", "ipv6.address": "none" },
      description: "",
      name: "br+0",
      type: "bridge",
      used_by: ["/1.0/instances/n1", "/1.0/profiles/default?project=p"],
      managed: true,
      status: "Created",
      locations: ["none"]
    },
    post: { name: "br+0", config: { "ipv4.address": "10.213.0.1/24" } },
    parents: [],
    name: "br+0",
    newName: "br1",
    invalidName: "sixteen-chars-xx"
  }),
  entry(NetworkForwards.spec, {
    make: NetworkForwards.make,
    item: {
      description: "",
      config: {},
      ports: [{
        description: "",
        protocol: "tcp",
        listen_port: "8080",
        target_port: "80",
        target_address: "10.213.0.5"
      }],
      listen_address: "fd42:213::10",
      location: "none"
    },
    post: { listen_address: "fd42:213::10", ports: [] },
    parents: ["br+0"],
    name: "fd42:213::10",
    newName: "10.213.0.200",
    invalidName: "not an address",
    invalidParents: ["two words"]
  }),
  entry(NetworkAcls.spec, {
    make: NetworkAcls.make,
    item: {
      name: "web+ssh",
      description: "",
      egress: [{ action: "reject", destination: "8.8.8.8/32", state: "logged" }],
      ingress: [{
        action: "allow",
        source: "10.213.0.0/24",
        protocol: "tcp",
        destination_port: "22",
        state: "enabled"
      }],
      config: {},
      used_by: ["/1.0/networks/br0"]
    },
    post: {
      name: "web+ssh",
      ingress: [{ action: "allow", state: "enabled", protocol: "tcp", destination_port: "22" }]
    },
    parents: [],
    name: "web+ssh",
    newName: "web-2",
    invalidName: "has.dot"
  }),
  entry(NetworkZones.spec, {
    make: NetworkZones.make,
    item: { description: "", config: { "user.k": "v" }, name: "net213.example", used_by: ["/1.0/networks/br0"] },
    post: { name: "net213.example" },
    parents: [],
    name: "net213.example",
    newName: "other.example",
    invalidName: "under_score"
  }),
  entry(NetworkZoneRecords.spec, {
    make: NetworkZoneRecords.make,
    item: { description: "", entries: [{ type: "A", ttl: 300, value: "10.213.0.5" }], config: {}, name: "w+w" },
    post: { name: "w+w", entries: [{ type: "A", value: "10.213.0.5" }] },
    parents: ["net213.example"],
    name: "w+w",
    newName: "www2",
    invalidName: "two words",
    invalidParents: ["under_score"]
  }),
  entry(NetworkPeers.spec, {
    make: NetworkPeers.make,
    item: {
      name: "to+ovn2",
      description: "",
      config: {},
      target_project: "default",
      target_network: "ovn2",
      status: "Created",
      used_by: []
    },
    post: { name: "to+ovn2", target_network: "ovn2" },
    parents: ["ovn1"],
    name: "to+ovn2",
    newName: "to-ovn3",
    invalidName: "two words"
  }),
  entry(NetworkLoadBalancers.spec, {
    make: NetworkLoadBalancers.make,
    item: {
      description: "",
      config: {},
      backends: [{ name: "c1-http", description: "", target_address: "10.213.0.5", target_port: "80" }],
      ports: [{ description: "", protocol: "tcp", listen_port: "80", target_backend: ["c1-http"] }],
      listen_address: "192.0.2.10",
      location: "none"
    },
    post: { listen_address: "192.0.2.10" },
    parents: ["ovn1"],
    name: "192.0.2.10",
    newName: "192.0.2.11",
    invalidName: "not-an-ip"
  }),
  // -- storage ---------------------------------------------------------------------------------------------
  entry(StoragePools.spec, {
    make: StoragePools.make,
    // `GET /1.0/storage-pools/default` on LXD 5.0.2
    item: {
      config: { source: "/var/lib/lxd/storage-pools/default" },
      description: "lab pool",
      name: "st+pool",
      driver: "dir",
      used_by: ["/1.0/profiles/default"],
      status: "Created",
      locations: ["none"]
    },
    post: { name: "st+pool", driver: "dir", config: { source: "/srv/st" } },
    parents: [],
    name: "st+pool",
    newName: "st-2",
    invalidName: "two words"
  }),
  entry(StorageVolumes.spec, {
    make: StorageVolumes.make,
    // `GET /1.0/storage-pools/default/volumes/custom/v1` on LXD 5.0.2
    item: {
      config: { size: "1GiB" },
      description: "",
      name: "vol+1",
      type: "custom",
      used_by: ["/1.0/instances/c1"],
      location: "none",
      content_type: "filesystem",
      project: "default",
      created_at: "0001-01-01T00:00:00Z"
    },
    post: { name: "vol+1", type: "custom", config: { size: "1GiB" } },
    parents: ["st+pool", "custom"],
    name: "vol+1",
    newName: "vol-2",
    invalidName: "two words",
    invalidParents: ["a b", "Custom"]
  }),
  entry(StorageVolumes.snapshotsSpec, {
    make: Effect.map(StorageVolumes.make, (v) => v.snapshots),
    // `GET …/volumes/custom/v1/snapshots/named` on LXD 5.0.2
    item: {
      description: "",
      expires_at: "2030-01-01T00:00:00Z",
      name: "snap+0",
      config: {},
      content_type: "filesystem",
      created_at: "0001-01-01T00:00:00Z"
    },
    post: { name: "snap+0", expires_at: "2030-01-01T00:00:00Z" },
    parents: ["default", "custom", "vol+1"],
    name: "snap+0",
    newName: "snap1",
    invalidName: "two words"
  }),
  entry(StorageVolumes.backupsSpec, {
    make: Effect.map(StorageVolumes.make, (v) => v.backups),
    // `GET …/volumes/custom/v3/backups/backup0` on LXD 5.0.2
    item: {
      name: "backup+0",
      created_at: "2026-12-01T22:22:38Z",
      expires_at: "0001-01-01T00:00:00Z",
      volume_only: false,
      optimized_storage: false
    },
    post: { name: "backup+0", compression_algorithm: "gzip" },
    parents: ["default", "custom", "vol+1"],
    name: "backup+0",
    newName: "backup1",
    invalidName: "two words"
  }),
  entry(Images.spec, {
    make: Images.make,
    // `GET /1.0/images/{fingerprint}` on LXD 5.0.2 (an uploaded busybox tarball)
    item: {
      aliases: [{ name: "busybox", description: "" }],
      architecture: "x86_64",
      auto_update: false,
      cached: false,
      created_at: "2026-12-01T21:00:00Z",
      expires_at: "0001-01-01T00:00:00Z",
      filename: "busybox.tar.gz",
      fingerprint: "5f1c7a2b9d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8",
      last_used_at: "0001-01-01T00:00:00Z",
      profiles: ["default"],
      properties: { os: "busybox", release: "1.35.0", description: "busybox lab image" },
      public: false,
      size: 1187840,
      type: "container",
      update_source: null,
      uploaded_at: "2026-12-01T21:00:01.123456789Z"
    },
    post: { properties: {} },
    parents: [],
    name: "5f1c7a2b9d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8",
    newName: "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1",
    invalidName: "not-hex"
  }),
  entry(Images.aliasesSpec, {
    make: Effect.map(Images.make, (images) => images.aliases),
    // `GET /1.0/images/aliases/{name}` on LXD 5.0.2
    item: {
      name: "bb+1",
      description: "an alias",
      target: "5f1c7a2b9d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8",
      type: "container"
    },
    post: { name: "bb+1", target: "5f1c7a2b9d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8" },
    parents: [],
    name: "bb+1",
    newName: "bb-2",
    invalidName: "a/b"
  }),
  entry(nested, {
    make: Effect.map(LxdClient.LxdClient, (client) => Collection.make(client, nested)),
    item: profile("snap+0"),
    post: { name: "snap+0" },
    parents: ["c1", "pool+1"],
    name: "snap+0",
    newName: "snap1",
    invalidName: "two words",
    invalidParents: ["-c1", "a b"]
  })
]
