/*
 * smg-s3 - get, put, head, list and delete objects on S3-compatible stores
 * (s3://bucket/key) and local files (file:///path), with ETag conditional
 * writes.  Objects stream between the store and files: memory stays flat.
 */
#include "cli.h"
#include "config.h"
#include "output.h"
#include "progress.h"
#include "s3.h"
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: smg-s3 [options] get URL [FILE|-]\n"
	"       smg-s3 [options] put URL [FILE|-]\n"
	"       smg-s3 [options] head URL\n"
	"       smg-s3 [options] list URL-PREFIX\n"
	"       smg-s3 [options] delete URL\n"
	"URL is s3://BUCKET/KEY or file:///ABSOLUTE/PATH; FILE defaults to - (stdin, stdout).\n"
	"  -c, --config FILE          read the [stash] table of FILE (default ./config.toml\n"
	"                             if there is one); options and AWS_* variables win\n"
	"      --endpoint URL         S3 endpoint (default https://s3.REGION.amazonaws.com)\n"
	"      --region REGION        signing region (default us-east-1)\n"
	"      --path-style           address objects as ENDPOINT/BUCKET/KEY\n"
	"      --virtual-host         address objects as BUCKET.ENDPOINT/KEY\n"
	"      --if-match ETAG        only if the object's ETag is ETAG (get, put, head, delete)\n"
	"      --if-none-match        put only if the object does not exist\n"
	"      --etag-file FILE       write the object's ETag to FILE (get, put, head)\n"
	"      --retries N            retries of a failed request (default 5)\n"
	"      --timeout SECS         deadline of a request, retries included\n"
	"                             (default [stash] timeout_secs, 3600)\n"
	"      --low-speed BYTES      abandon an attempt slower than BYTES a second...\n"
	"      --low-speed-time SECS  ...for SECS seconds (default 1024 for 60)\n"
	"      --page-size N          list N keys a request (default: the store's, 1000)\n"
	"      --part-size BYTES      put larger objects in parts of BYTES (multipart;\n"
	"                             default $SMG_S3_PART_SIZE, else [stash] part_size,\n"
	"                             else 64 MiB; 0: never)\n"
	"  -o, --output FORMAT        head and list output: text (default) or json\n"
	"  -v, --verbose              log every HTTP attempt on stderr\n"
	"  -q, --quiet                no progress on stderr\n"
	"  -h, --help                 this help\n"
	"      --version              print the version\n";

struct options {
	struct smg_s3_config cfg;
	const char *config_file;
	struct smg_obj_cond cond;
	const char *etag_file;
	enum smg_report output;
	int page_size;
	long long part_size;	/* -1: $SMG_S3_PART_SIZE, else the config's */
	long long config_part_size;	/* [stash] part_size, or its default */
	struct smg_http_opts http;
	long timeout_s, low_speed, low_speed_s;	/* -1: from the config */
};

/* ---- configuration ---------------------------------------------------------- */

static void fill_unset(char **field, const char *value)
{
	if (!*field && value && *value)
		*field = smg_xstrdup(value);
}

/* Fills what options and the environment left unset from the [stash]
 * table of the -c file (which must exist), or of ./config.toml when there
 * is one, as the other smg programs do. */
static void config_from_file(struct options *o)
{
	struct smg_config c;
	smg_config_load(&c, o->config_file ? o->config_file : "config.toml", o->config_file != NULL);
	if (c.from_file) {
		fill_unset(&o->cfg.endpoint, c.stash.endpoint);
		fill_unset(&o->cfg.region, c.stash.region);
		fill_unset(&o->cfg.access_key_id, c.stash.access_key_id);
		fill_unset(&o->cfg.secret_access_key, c.stash.secret_access_key);
		fill_unset(&o->cfg.session_token, c.stash.session_token);
		if (o->cfg.path_style < 0)
			o->cfg.path_style = c.stash.path_style;
	}
	/* Limits apply without a file too: their defaults are the config's. */
	smg_http_opts_limits(&o->http, o->timeout_s >= 0 ? o->timeout_s : c.stash.timeout_secs,
			     o->low_speed >= 0 ? o->low_speed : c.stash.low_speed_limit,
			     o->low_speed_s >= 0 ? o->low_speed_s : c.stash.low_speed_secs);
	o->config_part_size = c.stash.part_size;
	smg_config_free(&c);
}

/* Precedence, highest first: options, the environment, the config file
 * (the order lib/config.h gives); each step fills only what is unset. */
static struct smg_s3 *open_store(struct options *o)
{
	smg_s3_config_from_env(&o->cfg);
	config_from_file(o);
	return smg_s3_new(&o->cfg, &o->http);
}

/* ---- output ---------------------------------------------------------------- */

static void format_time(time_t t, char out[32])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void print_info(const struct smg_obj_info *info, void *arg)
{
	const struct options *o = arg;
	char when[32];
	format_time(info->mtime, when);
	struct smg_buf line = SMG_BUF_INIT;
	if (o->output == SMG_REPORT_JSON) {
		smg_buf_adds(&line, "{\"key\":");
		smg_json_add_string(&line, info->key, strlen(info->key));
		smg_buf_addf(&line, ",\"size\":%llu,\"etag\":", (unsigned long long)info->size);
		smg_json_add_string(&line, info->etag, strlen(info->etag));
		smg_buf_addf(&line, ",\"last_modified\":\"%s\"}\n", when);
	} else if (o->output == SMG_REPORT_TEXT) {
		smg_obj_add_text(&line, info->key);
		smg_buf_addf(&line, "\t%llu\t", (unsigned long long)info->size);
		smg_obj_add_text(&line, info->etag);
		smg_buf_addf(&line, "\t%s\n", when);
	}
	smg_write_all(1, line.data ? line.data : "", line.len, "stdout");
	smg_buf_free(&line);
}

static void write_etag_file(const char *path, const char *etag)
{
	FILE *f = fopen(path, "w");
	if (!f)
		smg_die(SMG_EXIT_FAILURE, "%s: %s", path, strerror(errno));
	fprintf(f, "%s\n", etag);
	if (ferror(f) | fclose(f))
		smg_die(SMG_EXIT_FAILURE, "writing %s failed", path);
}

/* ---- verbs ------------------------------------------------------------------ */

/* FILE is replaced only by a whole object (see output.h). */
static int cmd_get(struct options *o, const struct smg_obj_url *u, const char *dest)
{
	struct smg_output out;
	int rc = smg_output_open(&out, dest, 0);
	if (rc)
		return rc;
	struct smg_s3 *s3 = u->scheme == SMG_URL_S3 ? open_store(o) : NULL;
	char *etag = NULL;
	rc = s3 ? smg_s3_get(s3, u->bucket, u->key, out.fd, &o->cond, &etag)
		: smg_file_get(u->key, out.fd, &o->cond, &etag);
	if (rc == 0)
		rc = smg_output_commit(&out);
	else
		smg_output_abort(&out);
	if (rc == 0 && o->etag_file)
		write_etag_file(o->etag_file, etag);
	free(etag);
	smg_s3_free(s3);
	return rc;
}

/* S3 needs the length before the body and may ask for it again on a retry:
 * a pipe is spooled to an unlinked temporary file first.  Hashes as it goes. */
static int seekable_source(int fd, off_t *offset, uint64_t *size, char sha256[65])
{
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		*offset = lseek(fd, 0, SEEK_CUR);
		if (*offset < 0)
			*offset = 0;
		if (!smg_fd_sha256(fd, *offset, sha256, size))
			smg_die(SMG_EXIT_FAILURE, "reading the object: %s", strerror(errno));
		return fd;
	}
	char *path;
	int spool = smg_tmpdir_file("smg-s3", &path);
	if (spool < 0)
		exit(SMG_EXIT_FAILURE);
	unlink(path);	/* gone when we are, whatever happens */
	free(path);
	const char *what = "";
	if (!smg_fd_copy(fd, spool, NULL, sha256, size, &what))
		smg_die(SMG_EXIT_FAILURE, "%s while spooling the object: %s", what, strerror(errno));
	*offset = 0;
	return spool;
}

static long long parse_size(const char *what, const char *s)
{
	char *end;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || n < 0 || errno)
		smg_die(SMG_EXIT_USAGE, "%s %s: expected a number of bytes, 0 or more", what, s);
	return n;
}

/* The option, else the environment, else the config (open_store read it). */
static uint64_t part_size(const struct options *o)
{
	if (o->part_size >= 0)
		return (uint64_t)o->part_size;
	const char *env = getenv("SMG_S3_PART_SIZE");
	if (env && *env)
		return (uint64_t)parse_size("SMG_S3_PART_SIZE", env);
	return (uint64_t)o->config_part_size;
}

static int cmd_put(struct options *o, const struct smg_obj_url *u, const char *src)
{
	int fd = 0;
	if (strcmp(src, "-") != 0) {
		fd = open(src, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			smg_die(errno == ENOENT ? SMG_EXIT_NOTFOUND : SMG_EXIT_FAILURE, "%s: %s", src,
				strerror(errno));
	}
	char *etag = NULL;
	int rc;
	if (u->scheme == SMG_URL_S3) {
		struct smg_s3 *s3 = open_store(o);
		off_t offset;
		uint64_t size;
		char sha256[65];
		int body = seekable_source(fd, &offset, &size, sha256);
		smg_s3_set_part_size(s3, part_size(o));
		rc = smg_s3_put(s3, u->bucket, u->key, body, offset, size, sha256, &o->cond, &etag);
		if (body != fd)
			close(body);
		smg_s3_free(s3);
	} else {
		rc = smg_file_put(u->key, fd, &o->cond, &etag);
	}
	if (fd != 0)
		close(fd);
	if (rc == 0 && o->etag_file)
		write_etag_file(o->etag_file, etag);
	free(etag);
	return rc;
}

static int cmd_head(struct options *o, const struct smg_obj_url *u)
{
	struct smg_obj_info info = {0};
	struct smg_s3 *s3 = u->scheme == SMG_URL_S3 ? open_store(o) : NULL;
	int rc = s3 ? smg_s3_head(s3, u->bucket, u->key, &o->cond, &info)
		    : smg_file_head(u->key, &o->cond, &info);
	if (rc == 0) {
		print_info(&info, o);
		if (o->etag_file)
			write_etag_file(o->etag_file, info.etag);
	}
	smg_obj_info_free(&info);
	smg_s3_free(s3);
	return rc;
}

static int cmd_list(struct options *o, const struct smg_obj_url *u)
{
	if (u->scheme == SMG_URL_FILE)
		return smg_file_list(u->key, print_info, o);
	struct smg_s3 *s3 = open_store(o);
	int rc = smg_s3_list(s3, u->bucket, u->key, o->page_size, print_info, o);
	smg_s3_free(s3);
	return rc;
}

static int cmd_delete(struct options *o, const struct smg_obj_url *u)
{
	if (u->scheme == SMG_URL_FILE)
		return smg_file_delete(u->key, &o->cond);
	struct smg_s3 *s3 = open_store(o);
	int rc = smg_s3_delete(s3, u->bucket, u->key, &o->cond);
	smg_s3_free(s3);
	return rc;
}

/* ---- arguments ---------------------------------------------------------------- */

enum {
	OPT_ENDPOINT = 256, OPT_REGION, OPT_PATH_STYLE, OPT_VIRTUAL_HOST, OPT_IF_MATCH,
	OPT_IF_NONE_MATCH, OPT_ETAG_FILE, OPT_RETRIES, OPT_PAGE_SIZE, OPT_VERSION, OPT_TIMEOUT,
	OPT_LOW_SPEED, OPT_LOW_SPEED_TIME, OPT_PART_SIZE,
};

static int parse_count(const char *opt, const char *s, long min, long max)
{
	char *end;
	long n = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || n < min || n > max)
		smg_die(SMG_EXIT_USAGE, "%s %s: expected a number from %ld to %ld", opt, s, min, max);
	return (int)n;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"endpoint", required_argument, NULL, OPT_ENDPOINT},
		{"region", required_argument, NULL, OPT_REGION},
		{"path-style", no_argument, NULL, OPT_PATH_STYLE},
		{"virtual-host", no_argument, NULL, OPT_VIRTUAL_HOST},
		{"if-match", required_argument, NULL, OPT_IF_MATCH},
		{"if-none-match", no_argument, NULL, OPT_IF_NONE_MATCH},
		{"etag-file", required_argument, NULL, OPT_ETAG_FILE},
		{"retries", required_argument, NULL, OPT_RETRIES},
		{"page-size", required_argument, NULL, OPT_PAGE_SIZE},
		{"part-size", required_argument, NULL, OPT_PART_SIZE},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"low-speed", required_argument, NULL, OPT_LOW_SPEED},
		{"low-speed-time", required_argument, NULL, OPT_LOW_SPEED_TIME},
		{"output", required_argument, NULL, 'o'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "c:o:vqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config_file = optarg; break;
		case OPT_ENDPOINT: smg_s3_config_set(&o->cfg.endpoint, optarg); break;
		case OPT_REGION: smg_s3_config_set(&o->cfg.region, optarg); break;
		case OPT_PATH_STYLE: o->cfg.path_style = 1; break;
		case OPT_VIRTUAL_HOST: o->cfg.path_style = 0; break;
		case OPT_IF_MATCH: o->cond.if_match = optarg; break;
		case OPT_IF_NONE_MATCH: o->cond.if_none_match = true; break;
		case OPT_ETAG_FILE: o->etag_file = optarg; break;
		case OPT_RETRIES: o->http.retry.max_retries = parse_count("--retries", optarg, 0, 100); break;
		case OPT_PAGE_SIZE: o->page_size = parse_count("--page-size", optarg, 1, 1000); break;
		case OPT_PART_SIZE: o->part_size = parse_size("--part-size", optarg); break;
		case OPT_TIMEOUT: o->timeout_s = parse_count("--timeout", optarg, 1, 1000000); break;
		case OPT_LOW_SPEED: o->low_speed = parse_count("--low-speed", optarg, 1, INT_MAX); break;
		case OPT_LOW_SPEED_TIME:
			o->low_speed_s = parse_count("--low-speed-time", optarg, 1, 1000000);
			break;
		case 'o': o->output = smg_report_parse(optarg); break;
		case 'v': o->http.verbose = true; break;
		case 'q': smg_progress_disable(); break;
		case 'h': smg_usage(usage, true);
		case OPT_VERSION: smg_version();
		default: smg_usage(usage, false);
		}
	}
}

/* Options that mean nothing for a verb are refused, not ignored. */
static void check_options(const struct options *o, const char *verb, const struct smg_obj_url *u)
{
	bool names_object = strcmp(verb, "list") != 0;
	if (names_object && (u->key[0] == '\0' || u->key[strlen(u->key) - 1] == '/'))
		smg_die(SMG_EXIT_USAGE, "%s needs an object URL, not a bucket or directory", verb);
	if (o->cond.if_none_match && strcmp(verb, "put") != 0)
		smg_die(SMG_EXIT_USAGE, "--if-none-match is for put only");
	if (o->cond.if_none_match && o->cond.if_match)
		smg_die(SMG_EXIT_USAGE, "--if-match and --if-none-match exclude each other");
	if (o->cond.if_match && strcmp(verb, "list") == 0)
		smg_die(SMG_EXIT_USAGE, "--if-match is for get, put, head and delete");
	if (o->etag_file && (strcmp(verb, "list") == 0 || strcmp(verb, "delete") == 0))
		smg_die(SMG_EXIT_USAGE, "--etag-file is for get, put and head");
}

static int run(struct options *o, const char *verb, const struct smg_obj_url *u,
		int nargs, char **args)
{
	bool takes_file = strcmp(verb, "get") == 0 || strcmp(verb, "put") == 0;
	if (nargs > (takes_file ? 1 : 0))
		smg_usage(usage, false);
	const char *file = nargs ? args[0] : "-";
	if (strcmp(verb, "get") == 0)
		return cmd_get(o, u, file);
	if (strcmp(verb, "put") == 0)
		return cmd_put(o, u, file);
	if (strcmp(verb, "head") == 0)
		return cmd_head(o, u);
	if (strcmp(verb, "list") == 0)
		return cmd_list(o, u);
	return cmd_delete(o, u);
}

int main(int argc, char **argv)
{
	static const char *const verbs[] = {"get", "put", "head", "list", "delete", NULL};
	struct options o = {.cfg = SMG_S3_CONFIG_INIT, .output = SMG_REPORT_TEXT,
		.http = SMG_HTTP_OPTS_DEFAULT, .timeout_s = -1, .low_speed = -1, .low_speed_s = -1,
		.part_size = -1};
	smg_setprogname(argv[0]);
	parse_options(argc, argv, &o);
	if (argc - optind < 2)
		smg_usage(usage, false);
	const char *verb = argv[optind];
	size_t v = 0;
	while (verbs[v] && strcmp(verbs[v], verb) != 0)
		v++;
	if (!verbs[v])
		smg_die(SMG_EXIT_USAGE, "unknown verb \"%s\" (get, put, head, list, delete)", verb);
	struct smg_obj_url u;
	char err[512];
	if (!smg_obj_url_parse(argv[optind + 1], &u, err, sizeof err))
		smg_die(SMG_EXIT_USAGE, "%s", err);
	check_options(&o, verb, &u);
	int rc = run(&o, verb, &u, argc - optind - 2, argv + optind + 2);
	smg_obj_url_free(&u);
	smg_s3_config_free(&o.cfg);
	return rc;
}
