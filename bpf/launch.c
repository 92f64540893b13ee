#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "launch.h"

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), -1)

static int parse_id(const char *s, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > INT_MAX)
		return -1;
	*out = v;
	return 0;
}

int invoker_get(struct invoker *who, char *err, size_t errlen)
{
	who->uid = getuid();
	who->gid = getgid();
	who->elevated = 0;
	if (geteuid() != 0)
		return 0;
	const char *uid = getenv("SUDO_UID"), *gid = getenv("SUDO_GID");
	if (!uid && getenv("PKEXEC_UID"))
		uid = getenv("PKEXEC_UID");
	if (!uid)
		return 0;
	unsigned long u, g;
	if (parse_id(uid, &u))
		return FAIL("invalid SUDO_UID/PKEXEC_UID '%s'", uid);
	if (gid && parse_id(gid, &g))
		return FAIL("invalid SUDO_GID '%s'", gid);
	who->uid = (uid_t)u;
	who->gid = gid ? (gid_t)g : (gid_t)u;
	who->elevated = 1;
	return 0;
}

void files_as_invoker(const struct invoker *who)
{
	setfsgid(who->gid);
	setfsuid(who->uid);
}

void files_as_self(void)
{
	setfsuid(geteuid());
	setfsgid(getegid());
}

int open_as_invoker(const struct invoker *who, const char *path, char *err, size_t errlen)
{
	files_as_invoker(who);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	int saved = errno;
	files_as_self();
	if (fd < 0)
		return FAIL("cannot write %s: %s", path, strerror(saved));
	return fd;
}

static int drop_to_invoker(const struct invoker *who)
{
	if (geteuid() != 0 || !who->elevated)
		return 0;
	if (setgroups(0, NULL) || setgid(who->gid) || setuid(who->uid))
		return -1;
	return 0;
}

static void add_file(struct target *t, const char *path)
{
	for (size_t i = 0; i < t->n_files; i++)
		if (strcmp(t->files[i], path) == 0)
			return;
	if (t->n_files < LAUNCH_MAX_FILES)
		t->files[t->n_files++] = strdup(path);
}

/* Resolves argv[0] along PATH like execvp does. */
static int resolve_program(const char *name, char *out, size_t outlen)
{
	if (strchr(name, '/'))
		return realpath(name, out) ? 0 : -1;
	const char *path = getenv("PATH");
	char *dirs = strdup(path ? path : "/usr/bin:/bin");
	int found = -1;
	for (char *save, *dir = strtok_r(dirs, ":", &save); dir && found; dir = strtok_r(NULL, ":", &save)) {
		char candidate[PATH_MAX];
		snprintf(candidate, sizeof(candidate), "%s/%s", dir, name);
		if (access(candidate, X_OK) == 0 && realpath(candidate, out))
			found = 0;
	}
	free(dirs);
	(void)outlen;
	return found;
}

/* Exit statuses of the listing child when the program cannot be executed. */
#define EXIT_CANNOT_RUN 126    /* EACCES: the invoking user may not run it */
#define EXIT_NOT_A_PROGRAM 125 /* ENOEXEC: not a program this machine runs */

/* The dynamic loader lists the libraries a program will load without running it (as the invoking
 * user, who runs the program). Returns the listing's exit status. */
static int list_libraries(struct target *t, const struct invoker *who, const char *program)
{
	int pipefd[2];
	if (pipe(pipefd))
		return 0;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, STDERR_FILENO);
		if (drop_to_invoker(who))
			_exit(127);
		setenv("LD_TRACE_LOADED_OBJECTS", "1", 1);
		execl(program, program, (char *)NULL);
		_exit(errno == EACCES ? EXIT_CANNOT_RUN : errno == ENOEXEC ? EXIT_NOT_A_PROGRAM : 127);
	}
	close(pipefd[1]);
	FILE *f = fdopen(pipefd[0], "r");
	char line[PATH_MAX + 128];
	while (f && fgets(line, sizeof(line), f)) {
		char *arrow = strstr(line, "=> "), *path = arrow ? arrow + 3 : line;
		while (*path == ' ' || *path == '\t')
			path++;
		if (*path != '/')
			continue;
		path[strcspn(path, " \n(")] = 0;
		char real[PATH_MAX];
		if (realpath(path, real))
			add_file(t, real);
	}
	if (f)
		fclose(f);
	int status = 0;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 0;
}

static void child_run(int go_fd, const struct invoker *who, char *const argv[])
{
	char go;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (read(go_fd, &go, 1) != 1)
		_exit(127); /* the helper gave up before the target could start */
	close(go_fd);
	if (drop_to_invoker(who)) {
		perror("ggml-lens-probe: cannot switch to the invoking user");
		_exit(127);
	}
	prctl(PR_SET_PDEATHSIG, 0);
	execvp(argv[0], argv);
	fprintf(stderr, "ggml-lens-probe: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int target_launch(struct target *t, const struct invoker *who, char *const argv[], char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	t->go_fd = t->statm_fd = -1;
	char program[PATH_MAX];
	if (resolve_program(argv[0], program, sizeof(program)))
		return FAIL("%s: command not found or not executable", argv[0]);
	add_file(t, program);
	int listed = list_libraries(t, who, program);
	if (listed == EXIT_CANNOT_RUN)
		return FAIL("%s: uid %d may not run it (permission denied on the program or a directory above it)", program,
			    (int)who->uid);
	if (listed == EXIT_NOT_A_PROGRAM)
		return FAIL("%s: not a program this machine can run (built for another architecture?)", program);
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC))
		return FAIL("pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		return FAIL("fork: %s", strerror(errno));
	if (pid == 0) {
		close(pipefd[1]);
		child_run(pipefd[0], who, argv);
	}
	close(pipefd[0]);
	t->pid = pid;
	t->go_fd = pipefd[1];
	t->launched = 1;
	return 0;
}

int target_release(struct target *t)
{
	if (t->go_fd < 0)
		return 0;
	int ok = write(t->go_fd, "g", 1) == 1;
	close(t->go_fd);
	t->go_fd = -1;
	return ok ? 0 : -1;
}

static int owner_of(pid_t pid, uid_t *uid)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (stat(path, &st))
		return -1;
	*uid = st.st_uid;
	return 0;
}

/* Adds the files of /proc/PID/maps: those mapped executable, and read-only ones too when asked. */
static void add_maps_files(struct target *t, int read_only_too)
{
	char path[64], line[PATH_MAX + 256];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)t->pid);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *file = strchr(line, '/');
		if (!file || (!strstr(line, " r-xp ") && !(read_only_too && strstr(line, " r--p "))))
			continue;
		file[strcspn(file, "\n")] = 0;
		if (!strstr(file, " (deleted)"))
			add_file(t, file);
	}
	if (f)
		fclose(f);
}

static void mapped_files(struct target *t)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)t->pid);
	char exe[PATH_MAX];
	ssize_t n = readlink(path, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		add_file(t, exe);
	}
	add_maps_files(t, 1);
}

size_t target_refresh_files(struct target *t)
{
	size_t before = t->n_files;
	add_maps_files(t, 0);
	return before;
}

int target_maps_changed(struct target *t)
{
	if (t->statm_fd < 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/statm", (int)t->pid);
		t->statm_fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	char text[32] = "";
	unsigned long pages = 0;
	int read = t->statm_fd >= 0 && pread(t->statm_fd, text, sizeof(text) - 1, 0) > 0 && sscanf(text, "%lu", &pages) == 1;
	if (read && pages != t->mapped_pages) {
		t->mapped_pages = pages;
		t->maps_unsettled = 2;
	}
	if (!t->maps_unsettled)
		return 0;
	t->maps_unsettled--;
	return 1;
}

int target_attach(struct target *t, const struct invoker *who, pid_t pid, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	t->go_fd = t->statm_fd = -1;
	uid_t owner;
	if (pid <= 0 || owner_of(pid, &owner) || (kill(pid, 0) && errno == ESRCH))
		return FAIL("no process with PID %d (it may have exited); check the PID with 'ps'", (int)pid);
	if (who->uid != 0 && owner != who->uid)
		return FAIL("process %d belongs to uid %u, not to you (uid %u): ggml-lens only attaches to your own processes",
			    (int)pid, (unsigned)owner, (unsigned)who->uid);
	t->pid = pid;
	mapped_files(t);
	if (t->n_files == 0)
		return FAIL("cannot read the memory map of process %d", (int)pid);
	return 0;
}

void target_free(struct target *t)
{
	if (t->go_fd >= 0)
		close(t->go_fd);
	if (t->statm_fd >= 0)
		close(t->statm_fd);
	t->statm_fd = -1;
	for (size_t i = 0; i < t->n_files; i++)
		free(t->files[i]);
	t->n_files = 0;
}
