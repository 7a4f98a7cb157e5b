/**
 * What `scripts/lxd-lab.sh up` prints (one JSON line) and what `test/lab/globalSetup.ts` provides to tests.
 */
export interface LabInfo {
  /** The lab folder (holds the daemon's log, PID file and image tarball). */
  readonly dir: string
  /** The daemon's `LXD_DIR`. */
  readonly lxdDir: string
  /** The daemon's unix socket, `<lxdDir>/unix.socket`. */
  readonly socket: string
  /** `host:port` of the daemon's HTTPS listener, e.g. `127.0.0.1:8443`. */
  readonly https: string
  /** PEM file of the daemon's server certificate (SANs 127.0.0.1 and ::1). */
  readonly serverCert: string
  /** `core.trust_password` of the daemon. */
  readonly trustPassword: string
  /** PID of the daemon (0 when unknown). */
  readonly pid: number
  /** Alias of the busybox image imported into the daemon. */
  readonly image: string
  /** Fingerprint (sha256 of the tarball) of that image. */
  readonly fingerprint: string
  /**
   * A tiny split image the lab built beside the busybox tarball (not imported): its metadata tarball, its rootfs
   * tarball and its fingerprint, sha256(metadata ‖ rootfs). Absent for cluster members and external labs
   * without `split-meta.tar.gz` / `split-rootfs.tar.gz` in `LXD_LAB_DIR`.
   */
  readonly split?: { readonly metadata: string; readonly rootfs: string; readonly fingerprint: string } | undefined
}

const stringKeys = [
  "dir",
  "lxdDir",
  "socket",
  "https",
  "serverCert",
  "trustPassword",
  "image",
  "fingerprint"
] as const satisfies ReadonlyArray<keyof LabInfo>

/** Checks the shape of a parsed `lxd-lab.sh up` line. */
export const isLabInfo = (u: unknown): u is LabInfo => {
  if (typeof u !== "object" || u === null) return false
  const r = u as Record<string, unknown>
  return stringKeys.every((k) => typeof r[k] === "string") && typeof r["pid"] === "number"
}

declare module "vitest" {
  export interface ProvidedContext {
    /** The first lab daemon, or null when it could not start (outside CI only; see `labError`). */
    lab: LabInfo | null
    /** The second lab daemon (only with `LXD_LAB_DAEMONS=2`), else null. */
    lab2: LabInfo | null
    /** Why the lab is missing, or null. */
    labError: string | null
  }
}
