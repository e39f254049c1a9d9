#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine, from Debian's packages, for tests/e2e/test_slurm.py.
#
#   bash scripts/slurm-local.sh start    # install what is missing, configure, start, wait for the node
#   bash scripts/slurm-local.sh status   # daemons and sinfo; exit 0 only where the node answers
#   bash scripts/slurm-local.sh stop     # cancel this cluster's jobs, stop the daemons
#
# There is no systemd in the containers this project runs in, so the daemons are started
# directly. State and logs live in $CNN_STUDY_SLURM_DIR (default /var/lib/cnn-study-slurm);
# slurm.conf goes to /etc/slurm/ because that is where sinfo, sbatch and submitit look.
set -euo pipefail

STATE_DIR=${CNN_STUDY_SLURM_DIR:-/var/lib/cnn-study-slurm}
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
CGROUP_CONF=$CONF_DIR/cgroup.conf
MARKER="# written by cnn-study scripts/slurm-local.sh"
PARTITION=debug
NODE=$(hostname -s)
WAIT_S=${CNN_STUDY_SLURM_WAIT_S:-90}
# The daemons, and so every job they start, run at this niceness: the test cluster shares
# its machine with real training, which should not slow down for it.
NICE=${CNN_STUDY_SLURM_NICE:-19}
PACKAGES=(munge slurm-client slurmctld slurmd)

MUNGE_KEY=/etc/munge/munge.key
MUNGE_RUN=/run/munge
MUNGE_PID=$MUNGE_RUN/munged.pid
CTLD_PID=$STATE_DIR/run/slurmctld.pid
SLURMD_PID=$STATE_DIR/run/slurmd.pid

say() { echo "slurm-local: $*"; }
die() { echo "slurm-local: $*" >&2; exit 1; }

require_root() {
    # Installing packages, writing /etc/slurm and running slurmd (which must create job
    # cgroups and switch to the job's user) all need root.
    [[ $EUID -eq 0 ]] || die "must run as root (it installs packages and starts slurmd); try: sudo bash $0 $1"
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

install_packages() {
    local missing=()
    for pkg in "${PACKAGES[@]}"; do installed "$pkg" || missing+=("$pkg"); done
    ((${#missing[@]} == 0)) && return
    command -v apt-get >/dev/null || die "apt-get not found: this script sets up SLURM from Debian's packages only"
    say "installing ${missing[*]}"
    # Recommends would pull in every optional plugin and its -dev package; the basic
    # plugins (proctrack, task, select, cgroup) come as a hard dependency of slurmd.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Process tracking decides whether a killed job (scancel, scontrol requeue, a time limit,
# a pre-emption) really stops. Measured here with `scontrol requeue` on a running job:
# - proctrack/linuxproc finds a job's processes by walking the parent chain from
#   slurmstepd, so a process the job daemonised (re-parented to init) kept running;
# - proctrack/pgid (task/none) left even the batch script's own `sleep` running, 18 s on;
# - proctrack/cgroup puts every process of a step in a freezer cgroup, which no descendant
#   can leave, and signals the whole cgroup: nothing survived, daemonised or not.
# So cgroup tracking it is, on cgroup v1 where the freezer is mounted (as here). On a
# cgroup-v2-only host Slurm 22.05 wants systemd to delegate its cgroups; there is none in
# these containers, so it is told to make them itself (IgnoreSystemd, not tried here).
choose_tracking() {
    PROCTRACK=proctrack/cgroup
    TASK=task/cgroup
    if [[ -n ${CNN_STUDY_SLURM_PROCTRACK:-} ]]; then  # for comparing plugins by hand
        PROCTRACK=$CNN_STUDY_SLURM_PROCTRACK
        TASK=${CNN_STUDY_SLURM_TASK:-task/none}
        CGROUP_PLUGIN=cgroup/v1
    elif [[ -d /sys/fs/cgroup/freezer && -w /sys/fs/cgroup/freezer ]]; then
        CGROUP_PLUGIN=cgroup/v1
    elif [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
        CGROUP_PLUGIN=cgroup/v2
    else
        say "warning: no usable cgroup hierarchy; jobs' daemonised processes will outlive them"
        PROCTRACK=proctrack/linuxproc
        TASK=task/none
        CGROUP_PLUGIN=cgroup/v1
    fi
}

# The node's real size, as slurmd itself measures it: a NodeName line that claims more CPUs
# or memory than slurmd finds gets the node drained at registration.
node_line() {
    local measured
    measured=$(slurmd -C | head -n 1)
    measured=${measured#NodeName=* }  # drop slurmd's NodeName (it may be the long host name)
    echo "NodeName=$NODE NodeAddr=127.0.0.1 ${measured/ UpTime=*/} State=UNKNOWN"
}

write_file_if_changed() {  # path content -> returns 0 when the file changed
    local path=$1 content=$2
    if [[ -f $path ]] && [[ $(cat "$path") == "$content" ]]; then return 1; fi
    printf '%s\n' "$content" >"$path.tmp"
    mv "$path.tmp" "$path"
    return 0
}

write_config() {
    mkdir -p "$CONF_DIR" "$STATE_DIR"/{ctld,slurmd,log,run}
    # Never overwrite a slurm.conf this script did not write: it may be a real cluster's.
    for f in "$CONF" "$CGROUP_CONF"; do
        if [[ -f $f ]] && ! grep -qF "$MARKER" "$f"; then
            die "$f exists and was not written by this script; move it away to use the local cluster"
        fi
    done
    choose_tracking
    local conf
    conf=$(cat <<EOF
$MARKER: edit the script, not this file.
ClusterName=cnnstudy
SlurmctldHost=$NODE(127.0.0.1)
# Root runs both daemons: a test cluster on one machine, where jobs run as their submitter.
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# A requeued job waits out the lifetime of its old launch credential before it may start
# again: 120 s by default, longer than a whole test. Launching a job here takes a second.
AuthInfo=cred_expire=10
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$STATE_DIR/log/slurmctld.log
SlurmdLogFile=$STATE_DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
SwitchType=switch/none

ProctrackType=$PROCTRACK
TaskPlugin=$TASK
# SIGTERM, then SIGKILL this many seconds later (30 by default): submitit ignores SIGTERM,
# so this is how long a requeued or cancelled job lingers.
KillWait=5
# A time limit is hard, with no minutes of grace (slurmctld checks limits every 30 s, so a
# job ends 0-30 s after its limit, and gets its --signal warning up to 30 s early).
OverTimeLimit=0
# Batch jobs may be requeued (scontrol requeue, pre-emption, submitit's own requeue after
# its timeout signal), and a node that was down returns once its slurmd registers again.
JobRequeue=1
ReturnToService=2
# Keep finished jobs visible to scontrol for 10 minutes: there is no accounting database
# (sacct answers "accounting storage is disabled"), so scontrol is what tests can ask.
MinJobAge=600
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none

# Cores and memory are both allocated, so two 1-CPU jobs share this node and --mem is
# checked against what the node has.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
SchedulerType=sched/backfill
# Look at pending jobs every 2 s, not every 30-60 s: a requeued job becomes eligible only
# when its BeginTime passes, an event no scheduler run is triggered by.
SchedulerParameters=sched_interval=2,bf_interval=2

# Pre-emption, as a cluster's scavenger queue does it: a job in the second partition,
# urgent (same node, higher tier; hidden from users but root), requeues debug jobs in its way. They get their own
# --signal at once (submitit's USR2, its cue to checkpoint and requeue), and SIGTERM then
# SIGKILL when their GraceTime is over.
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
SlurmctldParameters=preempt_send_user_signal

$(node_line)
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP PriorityTier=1 GraceTime=20
PartitionName=urgent Nodes=$NODE MaxTime=INFINITE State=UP PriorityTier=2 PreemptMode=OFF Hidden=YES
EOF
)
    local cgroup systemd=""
    [[ $CGROUP_PLUGIN == cgroup/v2 ]] && systemd=$'IgnoreSystemd=yes\nCgroupAutomount=yes'
    cgroup=$(cat <<EOF
$MARKER: edit the script, not this file.
CgroupPlugin=$CGROUP_PLUGIN
CgroupMountpoint=/sys/fs/cgroup
$systemd
# Processes are tracked (and killed) through cgroups; cores and memory are allocated by
# the scheduler but not fenced, which the tests do not need.
ConstrainCores=no
ConstrainRAMSpace=no
ConstrainSwapSpace=no
ConstrainDevices=no
EOF
)
    CHANGED=0
    write_file_if_changed "$CONF" "$conf" && CHANGED=1
    write_file_if_changed "$CGROUP_CONF" "$cgroup" && CHANGED=1
    return 0
}

start_munge() {
    if [[ ! -s $MUNGE_KEY ]]; then
        say "creating the munge key"
        mungekey --create --keyfile "$MUNGE_KEY"
    fi
    # munged refuses a key that others can read, and runs as the munge user.
    chown munge:munge "$MUNGE_KEY"
    chmod 0400 "$MUNGE_KEY"
    install -d -o munge -g munge -m 0755 "$MUNGE_RUN"
    if ! alive "$MUNGE_PID"; then
        say "starting munged"
        runuser -u munge -- nice -n "$NICE" /usr/sbin/munged
    fi
    for _ in $(seq 50); do munge -n </dev/null | unmunge >/dev/null 2>&1 && return; sleep 0.2; done
    die "munged does not answer (see /var/log/munge/munged.log)"
}

stop_pid() {  # pidfile name
    local pidfile=$1 name=$2 pid
    alive "$pidfile" || { rm -f "$pidfile"; return 0; }
    pid=$(cat "$pidfile")
    say "stopping $name ($pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

start_slurm() {
    if ((CHANGED)) && { alive "$CTLD_PID" || alive "$SLURMD_PID"; }; then
        say "slurm.conf changed: restarting the daemons"
        stop_pid "$SLURMD_PID" slurmd
        stop_pid "$CTLD_PID" slurmctld
    fi
    if ! alive "$CTLD_PID"; then
        say "starting slurmctld"
        nice -n "$NICE" slurmctld
    fi
    if ! alive "$SLURMD_PID"; then
        say "starting slurmd"
        nice -n "$NICE" slurmd
    fi
}

node_state() { sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -n 1; }

wait_for_node() {
    local state="" deadline=$((SECONDS + WAIT_S)) resumed=0
    while ((SECONDS < deadline)); do
        state=$(node_state || true)
        case $state in
            idle | mixed | allocated | completing)
                say "node $NODE is $state in partition $PARTITION ($PROCTRACK, $TASK)"
                return 0 ;;
            down* | drain* | fail*)
                # A node left down by an earlier stop (or an unclean one) is put back once.
                if ((!resumed)) && alive "$SLURMD_PID"; then
                    scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
                    resumed=1
                fi ;;
        esac
        sleep 1
    done
    die "node $NODE is not idle after ${WAIT_S}s (sinfo says '${state:-nothing}'); see $STATE_DIR/log/slurmctld.log and slurmd.log"
}

cmd_start() {
    require_root start
    install_packages
    write_config
    start_munge
    start_slurm
    wait_for_node
}

cmd_stop() {
    require_root stop
    # Jobs outlive slurmd (their slurmstepd keeps them going); on a stopped test cluster
    # they would only keep training unseen, so they are cancelled first.
    local jobs=()
    alive "$CTLD_PID" && mapfile -t jobs < <(squeue -h -o %i 2>/dev/null || true)
    if ((${#jobs[@]})); then
        say "cancelling ${#jobs[@]} job(s) of this cluster"
        scancel "${jobs[@]}" || true
        for _ in $(seq 30); do [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break; sleep 1; done
    fi
    stop_pid "$SLURMD_PID" slurmd
    stop_pid "$CTLD_PID" slurmctld
    stop_pid "$MUNGE_PID" munged
    say "stopped"
}

cmd_status() {
    local name pidfile
    for pair in "munged:$MUNGE_PID" "slurmctld:$CTLD_PID" "slurmd:$SLURMD_PID"; do
        name=${pair%%:*} pidfile=${pair#*:}
        if alive "$pidfile"; then say "$name running ($(cat "$pidfile"))"; else say "$name not running"; fi
    done
    if command -v sinfo >/dev/null && sinfo >/dev/null 2>&1; then
        sinfo -N -l
        return 0
    fi
    say "no cluster answers (sinfo missing or failing)"
    return 3
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
