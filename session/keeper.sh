#!/bin/bash
# Outpost's session keeper: the entrypoint of Outpost's session image (/opt/outpost/keeper).
#
# Why it exists: a session must not outlive the lease of the Outpost that serves it. Outpost holds the
# container's stdin through its attach; when Outpost dies, the engine closes that stdin. The runner
# cannot be the one to notice: it shares the session's uid, and a session job can open
# /proc/<runner>/fd/0 for writing and so keep the pipe from ever closing. The keeper can: it runs as
# root in the container — the engine's init (PID 1, root too) is its parent — while the runner and the
# session run as the session's uid, so the session can neither signal, ptrace nor open the
# descriptors of either (/proc/1/fd, /proc/<keeper>/fd need the same uid or CAP_SYS_PTRACE).
# Outpost starts this container with every capability dropped but KILL (to pass docker stop's SIGTERM
# to the runner), SETUID and SETGID (to start the runner as the session's uid), and no-new-privileges:
# the runner loses all three at setpriv's setuid and can never get them back.
#
# What it does: it keeps the attach's stdin to itself (only `cat`, root, reads it) and passes what
# comes there — the item's frame (electron/core/runtime/handover-frame.ts) — to the runner on the
# runner's descriptor 3, a FIFO of its own; the runner's stdin is /dev/null. When that stdin closes,
# it exits 70: the engine's init exits with it, and the kernel kills every process left in the
# container, whatever the session did. When the runner exits, it exits with the runner's code.
#
# OUTPOST_SESSION_USER (uid:gid) says who the runner runs as. Run by hand as a non-root user (the
# image's USER), it runs the runner as itself.
set -u
runner=(/usr/local/bin/node /opt/outpost/runner.mjs)

as_user=()
if [[ -n ${OUTPOST_SESSION_USER-} ]]; then
  if [[ ! $OUTPOST_SESSION_USER =~ ^([0-9]+):([0-9]+)$ ]]; then
    echo "outpost-keeper: OUTPOST_SESSION_USER must be uid:gid, not '$OUTPOST_SESSION_USER'" >&2
    exit 64
  fi
  if [[ ${OUTPOST_SESSION_CAPABILITIES-} == none ]]; then
    # Rootless Docker: the session is the container's root (the engine's user), as this keeper is. It
    # loses every capability through its bounding set instead of a change of uid; holding none of the
    # keeper's, it can still neither ptrace it nor open its descriptors (the kernel wants the target's
    # capabilities to be a subset of the caller's), though, sharing its uid, it can signal it.
    as_user=(/usr/bin/setpriv "--reuid=${BASH_REMATCH[1]}" "--regid=${BASH_REMATCH[2]}" --clear-groups --inh-caps=-all --bounding-set=-all --)
  elif [[ $(id -u) != "${BASH_REMATCH[1]}" ]]; then
    as_user=(/usr/bin/setpriv "--reuid=${BASH_REMATCH[1]}" "--regid=${BASH_REMATCH[2]}" --clear-groups --)
  fi
fi
# A root session (a profile's allowRoot) shares the keeper's uid: for it, the guarantee above does not hold.
unset OUTPOST_SESSION_USER OUTPOST_SESSION_CAPABILITIES
# Given its item in its environment (an older Outpost, or an image run by hand), the runner takes no
# handover and there is no stdin to watch: it runs in the keeper's place, as any image's entrypoint would.
if [[ -n ${ANTHROPIC_SESSION_ID-} ]]; then
  exec "${as_user[@]}" "${runner[@]}"
fi

# The attach's stdin moves to a descriptor only this shell and its feeder hold; stdin becomes /dev/null.
exec {attach}<&0 </dev/null
# The runner's pipe: a FIFO in a folder of root's (0700), which the session's uid cannot reach (under rootless
# Docker the session is that root and can: it already holds the runner the pipe feeds).
folder=$(mktemp -d) || exit 71
feed=$folder/handover
mkfifo -m 600 "$feed" || exit 71
# The feeder copies the attach's stdin to the runner's pipe; it ends when that stdin closes, and only
# then: once the runner has ended (its pipe closed), what still comes is read and dropped.
{ cat >"$feed"; exec cat >/dev/null; } <&"$attach" &
feeder=$!
# The runner gets the pipe on 3 and nothing that leads to the attach's stdin (it would be the session's to hold).
OUTPOST_HANDOVER_FD=3 "${as_user[@]}" "${runner[@]}" 3<"$feed" {attach}<&- &
runner_pid=$!
exec {attach}<&-

# docker stop's SIGTERM reaches this shell (the init passes it on): the runner is the one to end its session.
trap 'kill -TERM "$runner_pid" 2>/dev/null' TERM INT
while :; do
  unset ended
  wait -n -p ended "$feeder" "$runner_pid"
  status=$?
  # Unset: a trapped signal interrupted the wait; wait again.
  [[ -n ${ended-} ]] && break
done
if [[ $ended == "$feeder" ]]; then
  # Before a handover: a warm container Outpost let go. After: its lease will lapse, and another worker may serve its item.
  echo '[outpost] stdin closed: whoever served this container is gone; ending it here' >&2
  exit 70
fi
exit "$status"
