#!/usr/bin/env bash
# lxd-lab.sh: start and stop throwaway LXD daemons for integration tests.
#
#   bash scripts/lxd-lab.sh install
#   bash scripts/lxd-lab.sh up DIR [--https-port PORT] [--name NAME] [--trust-password PW] [--verify] [--debug]
#   bash scripts/lxd-lab.sh restart DIR [--debug]
#   bash scripts/lxd-lab.sh down DIR
#   bash scripts/lxd-lab.sh bare-up DIR [--name NAME] [--debug]
#   bash scripts/lxd-lab.sh cluster-up DIR --https-ports P1,P2,P3 [--name NAME] [--debug]
#   bash scripts/lxd-lab.sh cluster-down DIR
#
# `restart` starts the daemon again on the existing LXD_DIR of a lab whose daemon died (a test SIGKILLs it by
# the PID `up` printed) and prints the JSON line again with the new PID.
#
# `--debug` starts the daemon with `--debug`: its DIR/lxd.log then names every request it handles (the test
# run's spec-coverage figure reads it).
#
# `up` starts a private daemon with LXD_DIR=DIR/lxd (dir pool "default", HTTPS on 127.0.0.1:PORT, a trust
# password, a busybox image aliased "busybox") and prints exactly one line of JSON on stdout describing it.
# Everything else goes to stderr or DIR/*.log. `down` tears it all down and removes DIR; it is idempotent.
# Several labs can run side by side (different DIR and --https-port).
#
# `install` installs the packages the lab needs that are missing (lxd, lxd-client, busybox-static, nftables,
# dnsmasq-base) with apt, under a lock of its own, so several lab scripts may run at once; with everything there
# it does nothing. `up` runs it first, so a lone `up` works on a fresh machine; whoever starts several labs at
# once runs it before them (apt's output then comes once, and no `up` waits on another's install).
#
# Must run as root.
# See ../shared/lxd-api/lab-notes.md (relative to the repository root) section 1 for the facts this script
# relies on.
set -euo pipefail

readonly LAB_MARKER=".lxd-lab"
readonly LAB_PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
readonly DEAD_PROXY="http://127.0.0.1:9"

# Never let a caller's LXD environment (LXD_SOCKET above all, which overrides the socket path of both the
# daemon and lxc) leak into our daemon or our lxc calls.
for _v in $(compgen -e); do
  case "$_v" in LXD_* | LXC_*) unset "$_v" ;; esac
done
unset _v
export PATH="$LAB_PATH:$PATH"

PROG="lxd-lab"
log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
now_ms() { date +%s%3N; }

usage() {
  cat >&2 <<'EOF'
usage:
  lxd-lab.sh install
  lxd-lab.sh up DIR [--https-port PORT] [--name NAME] [--trust-password PW] [--verify] [--debug]
  lxd-lab.sh restart DIR [--debug]
  lxd-lab.sh down DIR
  lxd-lab.sh bare-up DIR [--name NAME] [--debug]
  lxd-lab.sh cluster-up DIR --https-ports P1,P2,P3 [--name NAME] [--debug]
  lxd-lab.sh cluster-down DIR
EOF
  exit 2
}

json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# Sets DIR (absolute, no trailing slash) and LXD_DIR_PATH from the argument.
set_dirs() {
  [[ -n "${1:-}" ]] || usage
  DIR=$(realpath -m -- "$1")
  [[ "$DIR" != "/" ]] || die "refusing to use / as the lab directory"
  LXD_DIR_PATH="$DIR/lxd"
}

# lxc / lxd client calls against this lab only.
lab_lxc() { env LXD_DIR="$LXD_DIR_PATH" LXD_CONF="$DIR/lxc-client" lxc "$@"; }
lab_lxd() { env LXD_DIR="$LXD_DIR_PATH" lxd "$@"; }

# --- process helpers -------------------------------------------------------------------------------------

# Scanning /proc must not fork per process (a $(...) per process costs ~2 ms each): these helpers use
# builtins only and set CMDLINE (argv joined by spaces) and COMM.
CMDLINE=""
COMM=""
get_cmdline() {
  local -a args=()
  mapfile -d '' args 2>/dev/null <"/proc/$1/cmdline" || true
  CMDLINE="${args[*]}"
}
get_comm() {
  COMM=""
  read -r COMM 2>/dev/null <"/proc/$1/comm" || true
}
proc_cmdline() {
  get_cmdline "$1"
  printf '%s' "$CMDLINE"
}

# True when PID is an lxd process whose environment has LXD_DIR set to this lab's LXD_DIR.
is_lab_daemon() {
  local pid=$1 exe e
  local -a env=()
  [[ "$pid" =~ ^[0-9]+$ && -d "/proc/$pid" ]] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
  case "${exe% (deleted)}" in */lxd) ;; *) return 1 ;; esac
  mapfile -d '' env 2>/dev/null <"/proc/$pid/environ" || return 1
  for e in "${env[@]}"; do [[ "$e" == "LXD_DIR=$LXD_DIR_PATH" ]] && return 0; done
  return 1
}

recorded_pid() {
  local pid=""
  if [[ -f "$DIR/lxd.pid" ]]; then read -r pid 2>/dev/null <"$DIR/lxd.pid" || true; fi
  [[ "$pid" =~ ^[0-9]+$ ]] && printf '%s' "$pid"
  return 0
}

# Every live lxd process of this lab: the recorded PID plus any lxd process with our LXD_DIR (PID file lost).
# lxd's own helper subprocesses (forkfile, forkexec, ...) match too; that is what we want when reaping.
lab_daemon_pids() {
  local p pid
  p=$(recorded_pid)
  if [[ -n "$p" ]] && is_lab_daemon "$p"; then echo "$p"; fi
  for pid in /proc/[0-9]*; do
    pid=${pid#/proc/}
    [[ "$pid" == "$p" || "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
    get_comm "$pid"
    [[ "$COMM" == lxd ]] || continue
    # Container monitors are lxd processes too (with our LXD_DIR); they are handled on their own.
    get_cmdline "$pid"
    [[ "$CMDLINE" == "[lxc monitor]"* ]] && continue
    is_lab_daemon "$pid" && echo "$pid"
  done
  return 0
}

# True when a lab daemon (not just a helper) is alive: the recorded PID or an `lxd --group ...` process.
lab_daemon_alive() {
  local p pid
  p=$(recorded_pid)
  if [[ -n "$p" ]] && is_lab_daemon "$p"; then return 0; fi
  while IFS= read -r pid; do
    get_cmdline "$pid"
    case "$CMDLINE" in "lxd --"* | lxd) return 0 ;; esac
  done < <(lab_daemon_pids)
  return 1
}

# [lxc monitor] processes of this lab's containers: their cmdline is "[lxc monitor] $LXD_DIR/containers NAME".
lab_monitor_pids() {
  local pid
  for pid in /proc/[0-9]*; do
    pid=${pid#/proc/}
    get_cmdline "$pid"
    case "$CMDLINE" in "[lxc monitor] $LXD_DIR_PATH/containers "*) echo "$pid" ;; esac
  done
  return 0
}

# dnsmasq / forkdns processes LXD started for this lab's managed networks (their arguments name files under
# $LXD_DIR/networks/).
lab_network_helper_pids() {
  local pid
  for pid in /proc/[0-9]*; do
    pid=${pid#/proc/}
    get_comm "$pid"
    case "$COMM" in dnsmasq | lxd) ;; *) continue ;; esac
    get_cmdline "$pid"
    case "$CMDLINE" in *"$LXD_DIR_PATH/networks/"*) echo "$pid" ;; esac
  done
  return 0
}

children_of() {
  local parent=$1 f stat pid rest
  local -a fields=()
  for f in /proc/[0-9]*/stat; do
    read -r stat 2>/dev/null <"$f" || continue
    pid=${stat%% *}
    rest=${stat##*) }
    read -r -a fields <<<"$rest"
    [[ "${fields[1]:-}" == "$parent" ]] && echo "$pid"
  done
  return 0
}

# Send SIGTERM to the given PIDs, wait up to $1 seconds, then SIGKILL the survivors.
term_then_kill() {
  local grace=$1 pid alive i
  shift
  [[ $# -gt 0 ]] || return 0
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for ((i = 0; i < grace * 10; i++)); do
    alive=0
    for pid in "$@"; do [[ -d "/proc/$pid" ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && return 0
    sleep 0.1
  done
  for pid in "$@"; do
    if [[ -d "/proc/$pid" ]]; then
      log "SIGKILL $pid ($(proc_cmdline "$pid"))"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  return 0
}

wait_gone() {
  local secs=$1 pid=$2 i
  for ((i = 0; i < secs * 20; i++)); do
    [[ -d "/proc/$pid" ]] || return 0
    grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# --- mounts ----------------------------------------------------------------------------------------------

# Mount points at or below DIR, deepest first (mountinfo escapes spaces etc. as \ooo).
lab_mounts() {
  local mp slashes
  while read -r _ _ _ _ mp _; do
    printf -v mp '%b' "$mp"
    if [[ "$mp" == "$DIR" || "$mp" == "$DIR/"* ]]; then
      slashes=${mp//[^\/]/}
      printf '%s\t%s\n' "${#slashes}" "$mp"
    fi
  done </proc/self/mountinfo | sort -rn -k1,1 | cut -f2-
}

unmount_lab() {
  local mp _round
  for _round in 1 2 3; do
    local any=0
    while IFS= read -r mp; do
      [[ -n "$mp" ]] || continue
      any=1
      umount -l -- "$mp" 2>/dev/null || umount -f -l -- "$mp" 2>/dev/null || log "warning: cannot unmount $mp"
    done < <(lab_mounts)
    [[ $any == 0 ]] && return 0
  done
  return 0
}

# Kill whatever of this lab still runs (container inits, monitors, network helpers, daemon), by PID only.
reap_processes() {
  local monitors=() inits=() helpers=() daemons=() pid
  mapfile -t monitors < <(lab_monitor_pids)
  for pid in "${monitors[@]}"; do mapfile -t -O "${#inits[@]}" inits < <(children_of "$pid"); done
  mapfile -t helpers < <(lab_network_helper_pids)
  mapfile -t daemons < <(lab_daemon_pids)
  if [[ ${#inits[@]} -gt 0 ]]; then
    log "killing container init processes: ${inits[*]}"
    # Killing a container's init ends its whole PID namespace.
    for pid in "${inits[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  if [[ ${#daemons[@]} -gt 0 ]]; then
    log "terminating lxd processes: ${daemons[*]}"
    term_then_kill 5 "${daemons[@]}"
  fi
  if [[ ${#monitors[@]} -gt 0 ]]; then
    log "terminating [lxc monitor] processes: ${monitors[*]}"
    term_then_kill 2 "${monitors[@]}"
  fi
  if [[ ${#helpers[@]} -gt 0 ]]; then
    log "terminating network helpers: ${helpers[*]}"
    term_then_kill 2 "${helpers[@]}"
  fi
}

# Ports (host ends of container veth pairs) of this lab's managed bridges. Only non-empty when the API could not
# clean up: after a daemon crash, liblxc hands the container end of each pair back to the host when the
# container dies, and nobody deletes the pair (seen here: both ends left in the host namespace, DOWN).
lab_bridge_ports() {
  local d net port
  [[ -d "$LXD_DIR_PATH/networks" ]] || return 0
  for d in "$LXD_DIR_PATH/networks"/*/; do
    [[ -d "$d" ]] || continue
    net=$(basename -- "$d")
    for port in "/sys/class/net/$net/brif"/*; do
      [[ -e "$port" ]] && basename -- "$port"
    done
  done
  return 0
}

remove_leftover_ports() {
  local port
  command -v ip >/dev/null 2>&1 || return 0
  for port in "$@"; do
    if [[ -e "/sys/class/net/$port" ]]; then
      log "deleting leftover host interface $port"
      ip link delete "$port" >&2 2>&1 || log "warning: cannot delete host interface $port"
    fi
  done
  return 0
}

# Host bridges of managed networks the API could not delete (daemon dead or wedged). Only names LXD recorded
# under this lab's $LXD_DIR/networks/ and only if the interface is a bridge.
remove_leftover_bridges() {
  local d net
  [[ -d "$LXD_DIR_PATH/networks" ]] || return 0
  command -v ip >/dev/null 2>&1 || return 0
  for d in "$LXD_DIR_PATH/networks"/*/; do
    [[ -d "$d" ]] || continue
    net=$(basename -- "$d")
    if [[ -d "/sys/class/net/$net/bridge" ]]; then
      log "deleting leftover host bridge $net"
      ip link delete "$net" >&2 2>&1 || log "warning: cannot delete host interface $net"
    fi
    remove_leftover_nft_chains "$net"
  done
  return 0
}

# LXD keeps the firewall rules of every daemon in one nftables table, "inet lxd", with chains named
# <kind>.<network> (fwd.br0, in.br0, out.br0, pstrt.br0, ...). A daemon that dies leaves its chains there.
remove_leftover_nft_chains() {
  local net=$1 chain
  command -v nft >/dev/null 2>&1 || return 0
  while read -r chain; do
    [[ -n "$chain" ]] || continue
    log "deleting leftover nftables chain inet lxd $chain"
    nft delete chain inet lxd "$chain" >&2 2>&1 || log "warning: cannot delete nftables chain inet lxd $chain"
  done < <(nft list table inet lxd 2>/dev/null | awk -v net="$net" '$1 == "chain" && $2 ~ ("^[a-z0-9]+\\." net "$") {print $2}')
  return 0
}

# --- down ------------------------------------------------------------------------------------------------

# Best effort: remove instances (forced), extra profiles' NICs and managed networks through the API, so no host
# interface outlives the daemon.
api_cleanup() {
  local urls url name project pids=() projects=() p net
  urls=$(timeout 15 env LXD_DIR="$LXD_DIR_PATH" LXD_CONF="$DIR/lxc-client" lxc query '/1.0/instances?all-projects=true' 2>/dev/null || true)
  while IFS= read -r url; do
    [[ -n "$url" ]] || continue
    name=${url#/1.0/instances/}
    project=default
    if [[ "$name" == *"?project="* ]]; then
      project=${name#*\?project=}
      project=${project%%&*}
      name=${name%%\?*}
    fi
    log "deleting instance $project/$name"
    timeout 30 env LXD_DIR="$LXD_DIR_PATH" LXD_CONF="$DIR/lxc-client" lxc delete --force --project "$project" "$name" >&2 2>&1 &
    pids+=($!)
  done < <(grep -o '"/1\.0/instances/[^"]*"' <<<"$urls" | tr -d '"')
  for p in "${pids[@]}"; do wait "$p" || true; done

  mapfile -t projects < <(timeout 10 env LXD_DIR="$LXD_DIR_PATH" LXD_CONF="$DIR/lxc-client" lxc query /1.0/projects 2>/dev/null |
    grep -o '"/1\.0/projects/[^"]*"' | tr -d '"' | sed 's|^/1\.0/projects/||' || true)
  [[ ${#projects[@]} -gt 0 ]] || projects=(default)
  local nets=()
  for p in "${projects[@]}"; do
    # Managed networks of this project (projects without features.networks show the default project's).
    while IFS=, read -r net _type managed _rest; do
      [[ "$managed" == "YES" ]] && nets+=("$p/$net")
    done < <(timeout 10 env LXD_DIR="$LXD_DIR_PATH" LXD_CONF="$DIR/lxc-client" lxc network list --project "$p" -f csv 2>/dev/null || true)
  done
  [[ ${#nets[@]} -gt 0 ]] || return 0
  # Profiles may still reference the networks: drop every NIC device from every profile first.
  for p in "${projects[@]}"; do
    local prof dev
    while IFS=, read -r prof _rest; do
      [[ -n "$prof" ]] || continue
      while IFS= read -r dev; do
        [[ -n "$dev" ]] || continue
        lab_lxc profile device remove --project "$p" "$prof" "$dev" >/dev/null 2>&1 || true
      done < <(lab_lxc profile show --project "$p" "$prof" 2>/dev/null | awk '
        /^devices:/ {d=1; next} /^[^ ]/ {d=0}
        d && /^  [^ ].*:$/ {name=$1; sub(":$","",name)}
        d && /^    type: nic$/ {print name}')
    done < <(lab_lxc profile list --project "$p" -f csv 2>/dev/null || true)
  done
  local seen=" " item
  for item in "${nets[@]}"; do
    net=${item#*/}
    [[ "$seen" == *" $net "* ]] && continue
    log "deleting network $item"
    if timeout 15 env LXD_DIR="$LXD_DIR_PATH" LXD_CONF="$DIR/lxc-client" lxc network delete --project "${item%%/*}" "$net" >&2 2>&1; then
      seen+="$net "
    fi
  done
  return 0
}

cmd_down() {
  set_dirs "${1:-}"
  shift || true
  [[ $# -eq 0 ]] || usage
  [[ "$(id -u)" == 0 ]] || die "must run as root (LXD needs it)"
  local t0 pid
  t0=$(now_ms)
  if [[ ! -e "$DIR" ]]; then
    log "$DIR does not exist: nothing to do"
    return 0
  fi
  if [[ ! -e "$DIR/$LAB_MARKER" && -n "$(ls -A -- "$DIR" 2>/dev/null)" ]]; then
    die "$DIR is not a lab directory (no $LAB_MARKER): refusing to remove it"
  fi

  pid=$(recorded_pid)
  if [[ -S "$LXD_DIR_PATH/unix.socket" ]] && lab_daemon_alive; then
    api_cleanup
    log "api cleanup done at +$(($(now_ms) - t0)) ms; lxd shutdown"
    timeout 30 env LXD_DIR="$LXD_DIR_PATH" lxd shutdown --timeout 25 >&2 2>&1 || log "warning: lxd shutdown failed or timed out"
    if [[ -n "$pid" ]] && is_lab_daemon "$pid"; then
      wait_gone 5 "$pid" || true
    fi
    log "lxd shutdown done at +$(($(now_ms) - t0)) ms"
  fi
  if [[ -n "$pid" ]] && is_lab_daemon "$pid"; then
    log "daemon $pid still alive: SIGTERM"
    term_then_kill 10 "$pid"
  fi
  local ports=()
  mapfile -t ports < <(lab_bridge_ports)
  reap_processes
  remove_leftover_ports "${ports[@]}"
  remove_leftover_bridges
  unmount_lab
  log "processes reaped, unmounted at +$(($(now_ms) - t0)) ms"
  rm -rf --one-file-system -- "$DIR" 2>/dev/null || true
  if [[ -e "$DIR" ]]; then
    # A second pass after another unmount round (lazy unmounts can take a moment to detach).
    unmount_lab
    rm -rf --one-file-system -- "$DIR" || true
  fi
  if [[ -e "$DIR" ]]; then
    log "error: could not remove $DIR; still mounted: $(lab_mounts | tr '\n' ' ')"
    return 1
  fi
  log "down in $(($(now_ms) - t0)) ms"
}

# --- up --------------------------------------------------------------------------------------------------

# What `up` needs from Debian; apt always gets the full set (it leaves the installed ones alone).
readonly LAB_PACKAGES=(lxd lxd-client busybox-static nftables dnsmasq-base)
# Our own lock around the apt steps. apt's locks do not make two installers safe: DPkg::Lock::Timeout waits for
# dpkg's lock only, and `apt-get update` fails at once (exit 100) when another one holds the lists lock.
readonly INSTALL_LOCK="/var/lock/effect-lxd-lab.lock"
readonly INSTALL_LOCK_WAIT=900
readonly APT=(apt-get -o DPkg::Lock::Timeout=300)

# Sets MISSING to the packages whose programs are not there (a dynamic /bin/busybox is the busybox package, no
# use in a container: the rootfs has no libraries).
MISSING=()
find_missing() {
  MISSING=()
  command -v lxd >/dev/null 2>&1 || MISSING+=(lxd)
  command -v lxc >/dev/null 2>&1 || MISSING+=(lxd-client)
  if [[ ! -x /bin/busybox ]] || ldd /bin/busybox >/dev/null 2>&1; then MISSING+=(busybox-static); fi
  command -v nft >/dev/null 2>&1 || MISSING+=(nftables)
  command -v dnsmasq >/dev/null 2>&1 || MISSING+=(dnsmasq-base)
  return 0
}

# Why apt cannot install package $1, if apt knows (nothing when it has a candidate: another package was the
# problem, or the network). For the error message.
apt_reason() {
  local candidate
  if [[ "$(dpkg-query -W -f '${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]; then
    printf 'installed, but its program is missing or wrong'
    return 0
  fi
  candidate=$(apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" {print $2}')
  case "$candidate" in
    "") printf 'unknown to apt' ;;
    "(none)") printf 'apt has no installation candidate' ;;
  esac
  return 0
}

# `apt-get update`, waiting for a foreign apt that holds the lists lock (no apt option does that, see above).
apt_update() {
  local i out rc
  for ((i = 1; ; i++)); do
    rc=0
    out=$("${APT[@]}" update 2>&1) || rc=$?
    printf '%s\n' "$out" >&2
    [[ $rc -ne 0 && "$out" == *"Could not get lock"* && $i -lt 60 ]] || return $rc
    log "apt's lists lock is held by another process; retrying in 5 s"
    sleep 5
  done
}

install_missing() {
  local rc=0 pkg why reasons=() list
  log "installing missing packages: ${MISSING[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A failed update (no network, a broken third-party source) can leave usable lists: let install decide.
  apt_update || log "warning: apt-get update failed (exit $?); installing from the lists there are"
  "${APT[@]}" install -y "${LAB_PACKAGES[@]}" >&2 || rc=$?
  find_missing
  [[ ${#MISSING[@]} -eq 0 ]] && return 0
  for pkg in "${MISSING[@]}"; do
    why=$(apt_reason "$pkg")
    [[ -z "$why" ]] || reasons+=("$pkg: $why")
  done
  printf -v list '; %s' "${reasons[@]}"
  die "apt-get install ${LAB_PACKAGES[*]} exited $rc and left missing: ${MISSING[*]}${reasons[0]:+ (${list#; })}"
}

# Installs what is missing, one lxd-lab.sh at a time: a second one waits, then finds everything there. The check
# runs under the lock too, since a half-done install can already have unpacked the programs it looks for.
ensure_packages() {
  local lock_fd
  [[ -d "${INSTALL_LOCK%/*}" ]] || die "${INSTALL_LOCK%/*} does not exist: cannot take the install lock"
  exec {lock_fd}>>"$INSTALL_LOCK"
  # Another `up` may hold the lock just for its check (well under a second): say nothing about that.
  if ! flock -w 2 "$lock_fd"; then
    log "waiting (up to $INSTALL_LOCK_WAIT s) for another lxd-lab.sh to install packages ($INSTALL_LOCK)"
    flock -w "$INSTALL_LOCK_WAIT" "$lock_fd" || die "still locked after $INSTALL_LOCK_WAIT s: $INSTALL_LOCK"
  fi
  find_missing
  # apt and whatever a postinst starts must not inherit the lock, nor must the daemon `up` starts later: a
  # process holding it would block every later install.
  if [[ ${#MISSING[@]} -gt 0 ]]; then install_missing {lock_fd}>&-; fi
  exec {lock_fd}>&-
}

cmd_install() {
  [[ $# -eq 0 ]] || usage
  [[ "$(id -u)" == 0 ]] || die "must run as root (apt needs it); try: sudo bash $0 install"
  exec 1>&2 </dev/null
  ensure_packages
  log "packages present: ${LAB_PACKAGES[*]}"
}

# Writes an image's metadata.yaml to $1: this machine's architecture, release $2, description $3.
write_metadata() {
  local arch
  arch=$(uname -m)
  cat >"$1" <<EOF
architecture: $arch
creation_date: $(date +%s)
properties:
  architecture: $arch
  os: busybox
  release: "$2"
  description: "$3"
EOF
}

# Builds the busybox image tarball into $1 (unified format: metadata.yaml + rootfs/).
build_image() {
  local out=$1 name=$2 build
  build=$(mktemp -d "$DIR/image-build.XXXXXX")
  write_metadata "$build/metadata.yaml" "$(/bin/busybox | head -1 | awk '{print $2}' | tr -d v)" \
    "busybox lab image ($name, $DIR)"
  local r="$build/rootfs"
  mkdir -p "$r"/{bin,sbin,dev,proc,sys,tmp,etc,root,var,run,usr/bin,usr/sbin}
  chmod 1777 "$r/tmp"
  chmod 700 "$r/root"
  cp /bin/busybox "$r/bin/busybox"
  # One symlink per applet, all in /bin (on the default PATH of lxc exec).
  local applet links=()
  while IFS= read -r applet; do
    [[ -n "$applet" && "$applet" != busybox ]] && links+=("$applet")
  done < <(/bin/busybox --list)
  # perl (Essential in Debian) makes the ~400 links in one process; a loop of ln would cost ~0.5 s.
  (cd "$r/bin" && perl -e 'for (@ARGV) { symlink("busybox", $_) or die "symlink $_: $!\n" }' "${links[@]}")
  ln -s /bin/busybox "$r/sbin/init"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
  printf 'root:x:0:\n' >"$r/etc/group"
  printf 'lab\n' >"$r/etc/hostname"
  # busybox init: nothing to bring up; one respawning child keeps it supervising something. On a graceful stop
  # LXD sends SIGPWR; busybox init then runs the shutdown actions, SIGTERMs everything, sleeps 1 s, SIGKILLs,
  # sleeps again (a graceful stop took 2.7 s). `poweroff -f` as the shutdown action calls reboot(2) at once,
  # which in a PID namespace ends the container's init: a graceful stop then takes ~0.65 s, like a forced one.
  cat >"$r/etc/inittab" <<'EOF'
::sysinit:/bin/true
::respawn:/bin/sh -c 'while true; do sleep 3600; done'
::shutdown:/bin/poweroff -f
EOF
  tar --numeric-owner --owner=0 --group=0 -C "$build" -cf - metadata.yaml rootfs | gzip -1 >"$out.tmp"
  mv -f "$out.tmp" "$out"
  rm -rf "$build"
}

# Builds a tiny split container image (lab-notes §7): $1 = metadata.yaml alone (tar.gz), $2 = a plain rootfs
# tarball (tar.gz; a few files, enough for LXD to store and export it, not to boot it).
build_split_image() {
  local meta=$1 rootfs=$2 name=$3 build
  build=$(mktemp -d "$DIR/split-build.XXXXXX")
  write_metadata "$build/metadata.yaml" split "split lab image ($name, $DIR)"
  mkdir -p "$build/rootfs/etc" "$build/rootfs/bin"
  printf 'split\n' >"$build/rootfs/etc/hostname"
  head -c 65536 /dev/urandom >"$build/rootfs/bin/blob"
  tar --numeric-owner --owner=0 --group=0 -C "$build" -cf - metadata.yaml | gzip -1 >"$meta.tmp"
  tar --numeric-owner --owner=0 --group=0 -C "$build/rootfs" -cf - . | gzip -1 >"$rootfs.tmp"
  mv -f "$meta.tmp" "$meta"
  mv -f "$rootfs.tmp" "$rootfs"
  rm -rf "$build"
}

up_failed() {
  local rc=$?
  trap - EXIT
  if [[ $rc -ne 0 ]]; then
    log "up failed (exit $rc); stopping the daemon it started"
    if [[ -f "$DIR/lxd.log" ]]; then
      log "last lines of $DIR/lxd.log:"
      tail -n 20 "$DIR/lxd.log" >&2 || true
    fi
    reap_processes || true
    unmount_lab || true
    rm -rf --one-file-system -- "$LXD_DIR_PATH" "$DIR/lxd.pid" 2>/dev/null || true
    log "logs kept in $DIR; run: bash $0 down $DIR"
  fi
  exit $rc
}

# Starts the daemon on LXD_DIR_PATH (fresh or existing), records its PID in DIR/lxd.pid and waits until it is
# ready; sets DAEMON_PID. $1: the start time (ms) for the log lines; DEBUG_ARGS: (--debug) or ().
DAEMON_PID=""
DEBUG_ARGS=()
start_daemon() {
  local t0=$1
  # The daemon must not inherit our stdout (fd 3): a caller reading it to EOF (execFile) would wait forever.
  # A clean environment: only what the daemon needs. The dead proxy makes its fetch of instance types from the
  # public image server fail at once (LXD never proxies loopback, so 127.0.0.1 traffic is unaffected). Go
  # prefers the upper-case variables, so set both spellings.
  setsid env -i \
    PATH="$LAB_PATH" HOME="${HOME:-/root}" LANG=C.UTF-8 \
    LXD_DIR="$LXD_DIR_PATH" \
    https_proxy="$DEAD_PROXY" HTTPS_PROXY="$DEAD_PROXY" http_proxy="$DEAD_PROXY" HTTP_PROXY="$DEAD_PROXY" \
    no_proxy="" NO_PROXY="" \
    lxd --group root "${DEBUG_ARGS[@]}" --logfile "$DIR/lxd.log" </dev/null >>"$DIR/lxd.out" 2>&1 3>&- &
  local pid=$!
  echo "$pid" >"$DIR/lxd.pid"
  log "daemon $pid started at +$(($(now_ms) - t0)) ms"

  local i ready=0
  for ((i = 0; i < 600; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$DIR/lxd.out" >&2 || true
      die "lxd exited during startup"
    fi
    if [[ -S "$LXD_DIR_PATH/unix.socket" ]] && lab_lxd waitready --timeout 1 >/dev/null 2>&1; then
      ready=1
      break
    fi
    sleep 0.05
  done
  [[ $ready == 1 ]] || die "lxd not ready after 60 s"
  is_lab_daemon "$pid" || die "pid $pid is not the lab's lxd daemon"
  DAEMON_PID=$pid
}

# `restart DIR [--debug]`: starts the daemon again on the lab's existing LXD_DIR (same config, instances,
# images, HTTPS port and certificate), after it died (a test SIGKILLs it). Refuses while one is alive. Prints
# the lab's JSON line again, with the new PID. Running containers survive a daemon kill (their monitors are
# separate processes) and the new daemon takes them over.
cmd_restart() {
  set_dirs "${1:-}"
  shift || true
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --debug) DEBUG_ARGS=(--debug); shift ;;
      *) usage ;;
    esac
  done
  PROG="lxd-lab[$(basename -- "$DIR")]"
  [[ "$(id -u)" == 0 ]] || die "must run as root (LXD needs it)"
  [[ -f "$DIR/$LAB_MARKER" && -d "$LXD_DIR_PATH" && -s "$DIR/lab.json" ]] ||
    die "no lab at $DIR (run: bash $0 up $DIR)"
  if lab_daemon_alive; then
    die "a daemon is still running with LXD_DIR=$LXD_DIR_PATH (pid $(lab_daemon_pids | paste -sd' ')): kill it first"
  fi
  exec 3>&1 1>&2 </dev/null
  local t0 line
  t0=$(now_ms)
  start_daemon "$t0"
  log "daemon $DAEMON_PID ready again at +$(($(now_ms) - t0)) ms"
  read -r line <"$DIR/lab.json"
  line=$(printf '%s' "$line" | sed -E "s/\"pid\":[0-9]+/\"pid\":$DAEMON_PID/")
  printf '%s\n' "$line" >"$DIR/lab.json"
  printf '%s\n' "$line" >&3
}

cmd_up() {
  set_dirs "${1:-}"
  shift || true
  local port=8443 name="" password="labpw" verify=0
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --https-port) port=${2:-}; shift 2 || usage ;;
      --https-port=*) port=${1#*=}; shift ;;
      --name) name=${2:-}; shift 2 || usage ;;
      --name=*) name=${1#*=}; shift ;;
      --trust-password) password=${2:-}; shift 2 || usage ;;
      --trust-password=*) password=${1#*=}; shift ;;
      --verify) verify=1; shift ;;
      --debug) DEBUG_ARGS=(--debug); shift ;;
      *) usage ;;
    esac
  done
  if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then die "bad --https-port: $port"; fi
  [[ -n "$name" ]] || name=$(basename -- "$DIR")
  PROG="lxd-lab[$name]"
  [[ "$(id -u)" == 0 ]] || die "must run as root (LXD needs it); try: sudo bash $0 up $DIR"

  # stdout carries the JSON line only.
  exec 3>&1 1>&2 </dev/null
  local t0 t
  t0=$(now_ms)
  ensure_packages

  # The socket path must fit in sun_path (108 bytes).
  ((${#LXD_DIR_PATH} + 12 < 108)) || die "LXD_DIR path too long for a unix socket: $LXD_DIR_PATH"

  mkdir -p "$DIR"
  # Unprivileged containers run with shifted uids (100000+): they must be able to traverse every folder above
  # their rootfs. A folder made by mkdtemp is 0700, and then `lxd forkstart` fails with exit status 1.
  chmod 0755 "$DIR"
  if lab_daemon_alive; then
    die "a daemon is already running with LXD_DIR=$LXD_DIR_PATH (pid $(lab_daemon_pids | paste -sd' ')); run: bash $0 down $DIR"
  fi
  if [[ -e "$LXD_DIR_PATH" ]]; then
    log "removing stale $LXD_DIR_PATH (no daemon alive)"
    reap_processes
    unmount_lab
    rm -rf --one-file-system -- "$LXD_DIR_PATH"
  fi
  touch "$DIR/$LAB_MARKER"
  rm -f "$DIR/lxd.pid" "$DIR/lxd.log" "$DIR/lxd.out" "$DIR/lab.json"
  mkdir -m 0711 "$LXD_DIR_PATH"
  # lxc's own config dir for this lab (no first-run banner, no writes to ~/.config/lxc).
  mkdir -p "$DIR/lxc-client"
  printf 'default-remote: local\n' >"$DIR/lxc-client/config.yml"

  trap up_failed EXIT
  local pid
  start_daemon "$t0"
  pid=$DAEMON_PID
  t=$(now_ms)
  log "daemon $pid ready at +$((t - t0)) ms"

  lab_lxd init --preseed >&2 <<EOF
config:
  core.https_address: "127.0.0.1:$port"
  core.trust_password: "$password"
  images.auto_update_interval: "0"
storage_pools:
- name: default
  driver: dir
  description: "lab pool"
profiles:
- name: default
  description: "lab default profile"
  devices:
    root:
      path: /
      pool: default
      type: disk
EOF

  log "preseed done at +$(($(now_ms) - t0)) ms"
  local tarball="$DIR/busybox-image.tar.gz"
  if [[ ! -s "$tarball" ]]; then
    build_image "$tarball" "$name"
  fi
  local fingerprint
  fingerprint=$(sha256sum "$tarball" | cut -d' ' -f1)
  log "image built at +$(($(now_ms) - t0)) ms"
  lab_lxc image import -q "$tarball" --alias busybox >&2
  lab_lxc image info "$fingerprint" >/dev/null || die "imported image $fingerprint not found"
  log "image $fingerprint imported at +$(($(now_ms) - t0)) ms"
  # a tiny split image (lab-notes §7), built on the spot, not imported: tests upload it
  build_split_image "$DIR/split-meta.tar.gz" "$DIR/split-rootfs.tar.gz" "$name"
  local split_fingerprint
  split_fingerprint=$(cat "$DIR/split-meta.tar.gz" "$DIR/split-rootfs.tar.gz" | sha256sum | cut -d' ' -f1)

  if [[ $verify == 1 ]]; then
    local out
    lab_lxc launch -q busybox lab-probe >&2
    out=$(lab_lxc exec lab-probe -- echo ok)
    [[ "$out" == ok ]] || die "verify: exec printed '$out', not 'ok'"
    lab_lxc delete --force lab-probe >&2
    log "verify done at +$(($(now_ms) - t0)) ms"
    log "verify: container launch + exec ok"
  fi
  trap - EXIT

  log "up in $(($(now_ms) - t0)) ms"
  printf '{"dir":%s,"lxdDir":%s,"socket":%s,"https":%s,"serverCert":%s,"trustPassword":%s,"pid":%d,"image":"busybox","fingerprint":%s,"split":{"metadata":%s,"rootfs":%s,"fingerprint":%s}}\n' \
    "$(json_str "$DIR")" "$(json_str "$LXD_DIR_PATH")" "$(json_str "$LXD_DIR_PATH/unix.socket")" \
    "$(json_str "127.0.0.1:$port")" "$(json_str "$LXD_DIR_PATH/server.crt")" "$(json_str "$password")" \
    "$pid" "$(json_str "$fingerprint")" "$(json_str "$DIR/split-meta.tar.gz")" \
    "$(json_str "$DIR/split-rootfs.tar.gz")" "$(json_str "$split_fingerprint")" >"$DIR/lab.json"
  cat "$DIR/lab.json" >&3
}

# --- cluster ---------------------------------------------------------------------------------------------

# A bare daemon in DIR (set_dirs first): its own LXD_DIR (folder mode 0755), nothing initialised (no pool, no
# network, no HTTPS listener), as a server about to join a cluster must be. Sets DAEMON_PID.
start_bare() {
  mkdir -p "$DIR"
  chmod 0755 "$DIR"
  touch "$DIR/$LAB_MARKER"
  mkdir -m 0711 "$LXD_DIR_PATH"
  mkdir -p "$DIR/lxc-client"
  printf 'default-remote: local\n' >"$DIR/lxc-client/config.yml"
  start_daemon "$1"
}

# `bare-up DIR [--name NAME]`: a bare daemon (start_bare), e.g. to join a cluster through the API. Prints one
# JSON line like `up`'s, with `https`, `trustPassword`, `image` and `fingerprint` empty. `down DIR` removes it.
cmd_bare_up() {
  set_dirs "${1:-}"
  shift || true
  local name=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --name) name=${2:-}; shift 2 || usage ;;
      --name=*) name=${1#*=}; shift ;;
      --debug) DEBUG_ARGS=(--debug); shift ;;
      *) usage ;;
    esac
  done
  [[ -n "$name" ]] || name=$(basename -- "$DIR")
  PROG="lxd-lab[$name]"
  [[ "$(id -u)" == 0 ]] || die "must run as root (LXD needs it)"
  ((${#LXD_DIR_PATH} + 12 < 108)) || die "LXD_DIR path too long for a unix socket: $LXD_DIR_PATH"
  exec 3>&1 1>&2 </dev/null
  local t0
  t0=$(now_ms)
  ensure_packages
  [[ ! -e "$LXD_DIR_PATH" ]] || die "$LXD_DIR_PATH exists already"
  trap up_failed EXIT
  start_bare "$t0"
  trap - EXIT
  log "bare daemon $DAEMON_PID up in $(($(now_ms) - t0)) ms"
  printf '{"dir":%s,"lxdDir":%s,"socket":%s,"https":"","serverCert":%s,"trustPassword":"","pid":%d,"image":"","fingerprint":""}\n' \
    "$(json_str "$DIR")" "$(json_str "$LXD_DIR_PATH")" "$(json_str "$LXD_DIR_PATH/unix.socket")" \
    "$(json_str "$LXD_DIR_PATH/server.crt")" "$DAEMON_PID" >"$DIR/lab.json"
  cat "$DIR/lab.json" >&3
}

# `cluster-up DIR --https-ports P1,P2,P3 [--name NAME]`: a three-member cluster on loopback (lab-notes §5).
# Member 1 is a normal lab (`up DIR/m1`) on which clustering is enabled; members 2 and 3 are bare daemons
# (DIR/m2, DIR/m3) joined with a token from member 1 through `lxd init --preseed`. Prints one JSON line:
# {"dir":DIR,"members":[{<the up line of the member>,"name":"m1"},…]}; every member's `serverCert` is the
# cluster certificate (the HTTPS listener of a clustered daemon serves it). On failure it tears all of it down.
cmd_cluster_up() {
  set_dirs "${1:-}"
  shift || true
  local ports="" name=""
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --https-ports) ports=${2:-}; shift 2 || usage ;;
      --https-ports=*) ports=${1#*=}; shift ;;
      --name) name=${2:-}; shift 2 || usage ;;
      --name=*) name=${1#*=}; shift ;;
      --debug) DEBUG_ARGS=(--debug); shift ;;
      *) usage ;;
    esac
  done
  local -a p=()
  IFS=, read -r -a p <<<"$ports"
  [[ ${#p[@]} -eq 3 ]] || die "--https-ports needs three ports (P1,P2,P3), got: '$ports'"
  local x
  for x in "${p[@]}"; do
    if ! [[ "$x" =~ ^[0-9]+$ ]] || ((x < 1 || x > 65535)); then die "bad port in --https-ports: $x"; fi
  done
  [[ -n "$name" ]] || name=$(basename -- "$DIR")
  PROG="lxd-lab[$name]"
  [[ "$(id -u)" == 0 ]] || die "must run as root (LXD needs it)"
  exec 3>&1 1>&2 </dev/null
  local t0 root=$DIR
  t0=$(now_ms)
  ensure_packages
  mkdir -p "$root"
  chmod 0755 "$root"
  touch "$root/$LAB_MARKER"
  trap 'cluster_up_failed "$root"' EXIT

  local m1
  m1=$(bash "$0" up "$root/m1" --https-port "${p[0]}" --name "$name-m1" "${DEBUG_ARGS[@]}" 3>&-)
  set_dirs "$root/m1"
  lab_lxc config set cluster.https_address "127.0.0.1:${p[0]}" >&2
  lab_lxc cluster enable m1 >&2
  log "clustering enabled on m1 at +$(($(now_ms) - t0)) ms"

  local -a lines=("$m1")
  local i member token pid port
  for i in 2 3; do
    member="m$i"
    port=${p[$((i - 1))]}
    set_dirs "$root/m1"
    token=$(lab_lxc cluster add "$member" -q)
    set_dirs "$root/$member"
    start_bare "$t0"
    pid=$DAEMON_PID
    lab_lxd init --preseed >&2 <<EOF
cluster:
  enabled: true
  server_name: $member
  server_address: "127.0.0.1:$port"
  cluster_token: "$token"
  member_config:
  - entity: storage-pool
    name: default
    key: source
    value: ""
EOF
    log "$member joined at +$(($(now_ms) - t0)) ms"
    lines+=("$(printf '{"dir":%s,"lxdDir":%s,"socket":%s,"https":%s,"serverCert":%s,"trustPassword":"labpw","pid":%d,"image":"busybox","fingerprint":"","name":"%s"}' \
      "$(json_str "$DIR")" "$(json_str "$LXD_DIR_PATH")" "$(json_str "$LXD_DIR_PATH/unix.socket")" \
      "$(json_str "127.0.0.1:$port")" "$(json_str "$LXD_DIR_PATH/cluster.crt")" "$pid" "$member")")
  done
  # Member 1's line gets the cluster certificate and its name; the others get the image fingerprint.
  lines[0]=$(printf '%s' "${lines[0]}" | sed -E 's|"serverCert":"([^"]*)/server\.crt"|"serverCert":"\1/cluster.crt"|; s|\}$|,"name":"m1"}|')
  local fp
  fp=$(printf '%s' "${lines[0]}" | sed -E 's|.*"fingerprint":"([0-9a-f]*)".*|\1|')
  lines[1]=${lines[1]/\"fingerprint\":\"\"/\"fingerprint\":\"$fp\"}
  lines[2]=${lines[2]/\"fingerprint\":\"\"/\"fingerprint\":\"$fp\"}
  printf '%s\n' "${lines[1]}" >"$root/m2/lab.json"
  printf '%s\n' "${lines[2]}" >"$root/m3/lab.json"
  trap - EXIT
  log "cluster up in $(($(now_ms) - t0)) ms"
  printf '{"dir":%s,"members":[%s,%s,%s]}\n' "$(json_str "$root")" "${lines[0]}" "${lines[1]}" "${lines[2]}" >"$root/cluster.json"
  cat "$root/cluster.json" >&3
}

cluster_up_failed() {
  local rc=$? root=$1
  trap - EXIT
  if [[ $rc -ne 0 ]]; then
    log "cluster-up failed (exit $rc); tearing the members down"
    (cmd_cluster_down "$root") || true
  fi
  exit $rc
}

# `cluster-down DIR`: removes the instances through member 1, then shuts every member down at the same time
# (one after the other, member 1 waits ~30 s for a quorum it no longer has: lab-notes §5), each by its PID
# (`down DIR/mN`), and removes DIR. Idempotent.
cmd_cluster_down() {
  set_dirs "${1:-}"
  local root=$DIR t0 d
  t0=$(now_ms)
  [[ "$(id -u)" == 0 ]] || die "must run as root (LXD needs it)"
  if [[ ! -e "$root" ]]; then
    log "$root does not exist: nothing to do"
    return 0
  fi
  [[ -e "$root/$LAB_MARKER" ]] || die "$root is not a lab directory (no $LAB_MARKER): refusing to remove it"
  set_dirs "$root/m1"
  if [[ -S "$LXD_DIR_PATH/unix.socket" ]] && lab_daemon_alive; then (api_cleanup) || true; fi
  local -a pids=()
  for d in "$root"/m[0-9]*; do
    [[ -d "$d" ]] || continue
    bash "$0" down "$d" </dev/null >&2 &
    pids+=($!)
  done
  local rc=0 pid
  for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
  rm -rf --one-file-system -- "$root" || rc=1
  log "cluster down in $(($(now_ms) - t0)) ms"
  return $rc
}

main() {
  [[ $# -ge 1 ]] || usage
  local cmd=$1
  shift
  case "$cmd" in
    install) cmd_install "$@" ;;
    up) cmd_up "$@" ;;
    restart) cmd_restart "$@" ;;
    down) cmd_down "$@" ;;
    bare-up) cmd_bare_up "$@" ;;
    cluster-up) cmd_cluster_up "$@" ;;
    cluster-down) cmd_cluster_down "$@" ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
