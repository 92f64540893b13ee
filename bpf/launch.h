/* The target process: started as the invoking user, or found by PID; and its mapped files. */
#ifndef GGML_LENS_LAUNCH_H
#define GGML_LENS_LAUNCH_H
#include <stddef.h>
#include <sys/types.h>

#define LAUNCH_MAX_FILES 512

struct invoker {
	uid_t uid; /* the user who asked for the run (SUDO_UID / PKEXEC_UID when elevated) */
	gid_t gid;
	int elevated; /* started through sudo / pkexec */
};

struct target {
	pid_t pid;
	int go_fd; /* launch mode: write end of the pipe the child waits on before exec, else -1 */
	int launched;
	size_t n_files;
	char *files[LAUNCH_MAX_FILES]; /* executable first, then its ELF libraries */
	unsigned long mapped_pages;    /* its size in pages when target_maps_changed last looked */
	int maps_unsettled;            /* looks left that report a change: the one after it too */
	int statm_fd;                  /* /proc/PID/statm, kept open for target_maps_changed; -1 until then */
};

int invoker_get(struct invoker *who, char *err, size_t errlen);
/* File accesses (only those) with the invoking user's identity, then with the helper's own again. */
void files_as_invoker(const struct invoker *who);
void files_as_self(void);
/* Opens (creates) an output file with the invoker's rights, never following a symlink. */
int open_as_invoker(const struct invoker *who, const char *path, char *err, size_t errlen);

/* Forks a child that waits, then runs argv as the invoker once target_release() is called. */
int target_launch(struct target *t, const struct invoker *who, char *const argv[], char *err, size_t errlen);
int target_release(struct target *t);
/* A running process the invoker owns, with the ELF files it maps. */
int target_attach(struct target *t, const struct invoker *who, pid_t pid, char *err, size_t errlen);
/* Adds the files whose code the target maps now and did not before (libraries it dlopened); returns
 * the index of the first one added (n_files when none). */
size_t target_refresh_files(struct target *t);
/* Whether the process's maps may have changed since the last call (always on the first): a cheap
 * test before reading them again. Mapping a library grows the address space, so a change of its
 * size is seen; the loader then maps the segments into the reserved range without changing the
 * size, so the call after a change reports one too, for a library caught half mapped. */
int target_maps_changed(struct target *t);
void target_free(struct target *t);
#endif
