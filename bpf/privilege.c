#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "privilege.h"

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), -1)

/* Attaching uprobe_multi links (each op-tracing window) and reading BPF maps and ring buffers. */
static const int KEPT[] = { CAP_BPF, CAP_PERFMON };

typedef struct __user_cap_data_struct cap_sets[_LINUX_CAPABILITY_U32S_3];

static void keep(cap_sets sets, int cap)
{
	sets[cap / 32].effective |= 1u << (cap % 32);
	sets[cap / 32].permitted |= 1u << (cap % 32);
}

/* Run by plain root, the target keeps root's capabilities, and reading its /proc/PID files (the maps
 * that samples are symbolized from) takes CAP_SYS_PTRACE from a process holding fewer. */
static void kept_sets(cap_sets sets, const struct invoker *who)
{
	memset(sets, 0, sizeof(cap_sets));
	for (size_t i = 0; i < sizeof(KEPT) / sizeof(KEPT[0]); i++)
		keep(sets, KEPT[i]);
	if (who->uid == 0)
		keep(sets, CAP_SYS_PTRACE);
}

static int cap_call(long nr, cap_sets sets)
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	return (int)syscall(nr, &header, sets);
}

/* The bounding set limits what any later execve could gain: emptied while CAP_SETPCAP is held. */
static int empty_bounding_set(void)
{
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
			return -1;
	return 0;
}

/* The invoker is the sudo / pkexec user, or the real user: plain root stays uid 0. */
static int become_invoker(const struct invoker *who)
{
	/* The permitted set survives the change of uid; the effective set is raised again below. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setgroups(0, NULL) || setresgid(who->gid, who->gid, who->gid) ||
	    setresuid(who->uid, who->uid, who->uid))
		return -1;
	return prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

/* What the kernel now says the process holds is exactly what was asked for. */
static int check_held(const struct invoker *who)
{
	cap_sets want, held;
	kept_sets(want, who);
	uid_t r, e, s;
	if (cap_call(SYS_capget, held) || getresuid(&r, &e, &s))
		return -1;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (held[i].effective != want[i].effective || held[i].permitted != want[i].permitted || held[i].inheritable)
			return -1;
	return r == who->uid && e == who->uid && s == who->uid ? 0 : -1;
}

int privilege_drop(const struct invoker *who, char *err, size_t errlen)
{
	if (empty_bounding_set())
		return FAIL("cannot empty the capability bounding set: %s", strerror(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0))
		return FAIL("cannot clear the ambient capabilities: %s", strerror(errno));
	if (become_invoker(who))
		return FAIL("cannot switch to the invoking user (uid %u): %s", (unsigned)who->uid, strerror(errno));
	cap_sets kept;
	kept_sets(kept, who);
	if (cap_call(SYS_capset, kept))
		return FAIL("cannot reduce the capabilities to CAP_BPF and CAP_PERFMON: %s", strerror(errno));
	/* Not dumpable: the invoking user may not ptrace a process that holds CAP_BPF. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		return FAIL("cannot set no_new_privs: %s", strerror(errno));
	if (check_held(who))
		return FAIL("the capabilities or user ids after the drop are not those asked for");
	return 0;
}
