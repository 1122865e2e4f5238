/*
 * replay_main.c: runs a fuzz target's LLVMFuzzerTestOneInput once on every file named (or found
 * in the directories named), without libFuzzer: the corpus and the kept crashers are replayed by
 * test/unit/run.sh under ASan and UBSan with gcc at every `make test`. Prints one TAP line per
 * target; a crash or a violated property aborts the program, which the TAP consumer sees.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

extern int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int	files = 0;

static void
run_file(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t    *buf;
	long		len;

	if (f == NULL)
		return;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(len > 0 ? (size_t) len : 1);
	if (buf && fread(buf, 1, (size_t) len, f) == (size_t) len)
	{
		LLVMFuzzerTestOneInput(buf, (size_t) len);
		files++;
	}
	free(buf);
	fclose(f);
}

static void
run_path(const char *path)
{
	struct stat st;
	DIR		   *d;
	struct dirent *e;

	if (stat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode))
	{
		run_file(path);
		return;
	}
	d = opendir(path);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
	{
		char		child[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(child, sizeof child, "%s/%s", path, e->d_name);
		run_path(child);
	}
	closedir(d);
}

int
main(int argc, char **argv)
{
	/* argv[1]: the TAP line's number and name ("3 fuzz_json"); then files and directories */
	if (argc < 2)
		return 2;
	for (int i = 2; i < argc; i++)
		run_path(argv[i]);
	printf("ok %s: %d inputs replayed, no crash, every property held\n", argv[1], files);
	return files > 0 ? 0 : 1;
}
