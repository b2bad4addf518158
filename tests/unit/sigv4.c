/*
 * sigv4.c - SigV4 against AWS's published vectors: the aws-sig-v4 test
 * suite (credentials AKIDEXAMPLE, 20150830T123600Z, us-east-1, service
 * "service") and the GET Object example of the S3 documentation.  Each
 * vector checks the canonical request, the string to sign and the
 * Authorization header.  The suite's normalize-path cases other than
 * get-space are left out on purpose: S3 does not normalise paths.
 */
#include "sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void check_str(const char *what, const char *got, const char *want)
{
	if (got && strcmp(got, want) == 0) {
		printf("ok - %s\n", what);
		return;
	}
	printf("not ok - %s\n#   got:  \"%s\"\n#   want: \"%s\"\n", what, got ? got : "(null)", want);
	failures++;
}

static void check_long(const char *what, long got, long want)
{
	if (got == want) {
		printf("ok - %s\n", what);
		return;
	}
	printf("not ok - %s (got %ld, wanted %ld)\n", what, got, want);
	failures++;
}

#define SUITE_DATE "20150830T123600Z"
#define SUITE_SCOPE "20150830/us-east-1/service/aws4_request"
#define SUITE_AUTH(signed, sig) \
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/" SUITE_SCOPE ", SignedHeaders=" signed \
	", Signature=" sig
#define SUITE_STS(hash) "AWS4-HMAC-SHA256\n" SUITE_DATE "\n" SUITE_SCOPE "\n" hash

#define STS_TOKEN \
	"AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAe" \
	"MicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phU" \
	"ZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38x" \
	"Vqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2" \
	"ICCR/oLxBA=="

/* Headers and query parameters as "Name:value" strings, as the suite's
 * .req files spell them; NULL ends each list. */
struct vector {
	const char *name;
	const char *method;
	const char *path;
	const char *query[4];
	const char *headers[6];
	const char *body;
	const char *creq;
	const char *sts;
	const char *auth;
};

static const struct vector suite[] = {
	{"get-vanilla", "GET", "/", {NULL},
	 {"Host:example.amazonaws.com", "X-Amz-Date:" SUITE_DATE, NULL}, "",
	 "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:" SUITE_DATE "\n\nhost;x-amz-date\n" SMG_SHA256_EMPTY,
	 SUITE_STS("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
	 SUITE_AUTH("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")},
	{"get-vanilla-query-order-key-case", "GET", "/", {"Param2=value2", "Param1=value1", NULL},
	 {"Host:example.amazonaws.com", "X-Amz-Date:" SUITE_DATE, NULL}, "",
	 "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:" SUITE_DATE
	 "\n\nhost;x-amz-date\n" SMG_SHA256_EMPTY,
	 SUITE_STS("816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"),
	 SUITE_AUTH("host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")},
	{"get-vanilla-query-order-key", "GET", "/", {"Param1=value2", "Param1=Value1", NULL},
	 {"Host:example.amazonaws.com", "X-Amz-Date:" SUITE_DATE, NULL}, "",
	 "GET\n/\nParam1=Value1&Param1=value2\nhost:example.amazonaws.com\nx-amz-date:" SUITE_DATE
	 "\n\nhost;x-amz-date\n" SMG_SHA256_EMPTY,
	 SUITE_STS("704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89"),
	 SUITE_AUTH("host;x-amz-date", "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1")},
	{"get-vanilla-query-order-value", "GET", "/", {"Param1=value2", "Param1=value1", NULL},
	 {"Host:example.amazonaws.com", "X-Amz-Date:" SUITE_DATE, NULL}, "",
	 "GET\n/\nParam1=value1&Param1=value2\nhost:example.amazonaws.com\nx-amz-date:" SUITE_DATE
	 "\n\nhost;x-amz-date\n" SMG_SHA256_EMPTY,
	 SUITE_STS("c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606"),
	 SUITE_AUTH("host;x-amz-date", "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694")},
	{"get-vanilla-query-unreserved", "GET", "/",
	 {"-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
	  "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", NULL},
	 {"Host:example.amazonaws.com", "X-Amz-Date:" SUITE_DATE, NULL}, "",
	 "GET\n/\n-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
	 "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n"
	 "host:example.amazonaws.com\nx-amz-date:" SUITE_DATE "\n\nhost;x-amz-date\n" SMG_SHA256_EMPTY,
	 SUITE_STS("c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177"),
	 SUITE_AUTH("host;x-amz-date", "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197")},
	{"get-vanilla-utf8-query", "GET", "/", {"\xe1\x88\xb4=bar", NULL},
	 {"Host:example.amazonaws.com", "X-Amz-Date:" SUITE_DATE, NULL}, "",
	 "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\nx-amz-date:" SUITE_DATE
	 "\n\nhost;x-amz-date\n" SMG_SHA256_EMPTY,
	 SUITE_STS("eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073"),
	 SUITE_AUTH("host;x-amz-date", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04")},
	{"get-vanilla-empty-query-key", "GET", "/", {"Param1=value1", NULL},
	 {"Host:example.amazonaws.com", "X-Amz-Date:" SUITE_DATE, NULL}, "",
	 "GET\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:" SUITE_DATE
	 "\n\nhost;x-amz-date\n" SMG_SHA256_EMPTY,
	 SUITE_STS("1e24db194ed7d0eec2de28d7369675a243488e08526e8c1c73571282f7c517ab"),
	 SUITE_AUTH("host;x-amz-date", "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb")},
	{"get-unreserved", "GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", {NULL},
	 {"Host:example.amazonaws.com", "X-Amz-Date:" SUITE_DATE, NULL}, "",
	 "GET\n/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n\n"
	 "host:example.amazonaws.com\nx-amz-date:" SUITE_DATE "\n\nhost;x-amz-date\n" SMG_SHA256_EMPTY,
	 SUITE_STS("6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9"),
	 SUITE_AUTH("host;x-amz-date", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f")},
	{"get-utf8", "GET", "/\xe1\x88\xb4", {NULL},
	 {"Host:example.amazonaws.com", "X-Amz-Date:" SUITE_DATE, NULL}, "",
	 "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:" SUITE_DATE
	 "\n\nhost;x-amz-date\n" SMG_SHA256_EMPTY,
	 SUITE_STS("2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102"),
	 SUITE_AUTH("host;x-amz-date", "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85")},
	{"normalize-path/get-space", "GET", "/example space/", {NULL},
	 {"Host:example.amazonaws.com", "X-Amz-Date:" SUITE_DATE, NULL}, "",
	 "GET\n/example%20space/\n\nhost:example.amazonaws.com\nx-amz-date:" SUITE_DATE
	 "\n\nhost;x-amz-date\n" SMG_SHA256_EMPTY,
	 SUITE_STS("63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86"),
	 SUITE_AUTH("host;x-amz-date", "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741")},
	{"get-header-key-duplicate", "GET", "/", {NULL},
	 {"Host:example.amazonaws.com", "My-Header1:value2", "My-Header1:value2", "My-Header1:value1",
	  "X-Amz-Date:" SUITE_DATE, NULL}, "",
	 "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\nx-amz-date:" SUITE_DATE
	 "\n\nhost;my-header1;x-amz-date\n" SMG_SHA256_EMPTY,
	 SUITE_STS("dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c"),
	 SUITE_AUTH("host;my-header1;x-amz-date", "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea")},
	{"get-header-value-order", "GET", "/", {NULL},
	 {"Host:example.amazonaws.com", "My-Header1:value4", "My-Header1:value1", "My-Header1:value3",
	  "My-Header1:value2", "X-Amz-Date:" SUITE_DATE}, "",
	 "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value4,value1,value3,value2\nx-amz-date:" SUITE_DATE
	 "\n\nhost;my-header1;x-amz-date\n" SMG_SHA256_EMPTY,
	 SUITE_STS("31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86"),
	 SUITE_AUTH("host;my-header1;x-amz-date", "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01")},
	{"get-header-value-trim", "GET", "/", {NULL},
	 {"Host:example.amazonaws.com", "My-Header1: value1", "My-Header2: \"a   b   c\"",
	  "X-Amz-Date:" SUITE_DATE, NULL}, "",
	 "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\nx-amz-date:" SUITE_DATE
	 "\n\nhost;my-header1;my-header2;x-amz-date\n" SMG_SHA256_EMPTY,
	 SUITE_STS("a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7"),
	 SUITE_AUTH("host;my-header1;my-header2;x-amz-date",
		    "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736")},
	{"post-vanilla", "POST", "/", {NULL},
	 {"Host:example.amazonaws.com", "X-Amz-Date:" SUITE_DATE, NULL}, "",
	 "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:" SUITE_DATE "\n\nhost;x-amz-date\n" SMG_SHA256_EMPTY,
	 SUITE_STS("553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"),
	 SUITE_AUTH("host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")},
	{"post-vanilla-query", "POST", "/", {"Param1=value1", NULL},
	 {"Host:example.amazonaws.com", "X-Amz-Date:" SUITE_DATE, NULL}, "",
	 "POST\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:" SUITE_DATE
	 "\n\nhost;x-amz-date\n" SMG_SHA256_EMPTY,
	 SUITE_STS("9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd"),
	 SUITE_AUTH("host;x-amz-date", "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11")},
	{"post-header-key-case", "POST", "/", {NULL},
	 {"host:example.amazonaws.com", "x-amz-date:" SUITE_DATE, NULL}, "",
	 "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:" SUITE_DATE "\n\nhost;x-amz-date\n" SMG_SHA256_EMPTY,
	 SUITE_STS("553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"),
	 SUITE_AUTH("host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")},
	{"post-header-key-sort", "POST", "/", {NULL},
	 {"X-Amz-Date:" SUITE_DATE, "My-Header1:value1", "Host:example.amazonaws.com", NULL}, "",
	 "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nx-amz-date:" SUITE_DATE
	 "\n\nhost;my-header1;x-amz-date\n" SMG_SHA256_EMPTY,
	 SUITE_STS("9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65"),
	 SUITE_AUTH("host;my-header1;x-amz-date", "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c")},
	{"post-header-value-case", "POST", "/", {NULL},
	 {"Host:example.amazonaws.com", "My-Header1:VALUE1", "X-Amz-Date:" SUITE_DATE, NULL}, "",
	 "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:VALUE1\nx-amz-date:" SUITE_DATE
	 "\n\nhost;my-header1;x-amz-date\n" SMG_SHA256_EMPTY,
	 SUITE_STS("d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93"),
	 SUITE_AUTH("host;my-header1;x-amz-date", "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d")},
	{"post-sts-token/post-sts-header-before", "POST", "/", {NULL},
	 {"Host:example.amazonaws.com", "X-Amz-Date:" SUITE_DATE, "X-Amz-Security-Token:" STS_TOKEN, NULL}, "",
	 "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:" SUITE_DATE "\nx-amz-security-token:" STS_TOKEN
	 "\n\nhost;x-amz-date;x-amz-security-token\n" SMG_SHA256_EMPTY,
	 SUITE_STS("c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6"),
	 SUITE_AUTH("host;x-amz-date;x-amz-security-token",
		    "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead")},
	{"post-x-www-form-urlencoded", "POST", "/", {NULL},
	 {"Content-Type:application/x-www-form-urlencoded", "Host:example.amazonaws.com",
	  "X-Amz-Date:" SUITE_DATE, NULL}, "Param1=value1",
	 "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:"
	 SUITE_DATE "\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
	 SUITE_STS("42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"),
	 SUITE_AUTH("content-type;host;x-amz-date", "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a")},
	{"post-x-www-form-urlencoded-parameters", "POST", "/", {NULL},
	 {"Content-Type:application/x-www-form-urlencoded; charset=utf8", "Host:example.amazonaws.com",
	  "X-Amz-Date:" SUITE_DATE, NULL}, "Param1=value1",
	 "POST\n/\n\ncontent-type:application/x-www-form-urlencoded; charset=utf8\nhost:example.amazonaws.com\n"
	 "x-amz-date:" SUITE_DATE "\n\ncontent-type;host;x-amz-date\n"
	 "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
	 SUITE_STS("2e1cf7ed91881a30569e46552437e4156c823447bf1781b921b5d486c568dd1c"),
	 SUITE_AUTH("content-type;host;x-amz-date", "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe")},
};

/* "Name:value" into a list; the value's own spaces are kept for the
 * signer to trim. */
static void add_split(struct smg_kvlist *l, const char *s, char sep)
{
	const char *at = strchr(s, sep);
	char *name = smg_xstrndup(s, at ? (size_t)(at - s) : strlen(s));
	smg_kv_add(l, name, at ? at + 1 : "");
	free(name);
}

static void run_vector(const struct vector *v)
{
	static const struct smg_sigv4_creds creds = {"AKIDEXAMPLE",
		"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL, "us-east-1", "service"};
	struct smg_kvlist query = SMG_KVLIST_INIT, headers = SMG_KVLIST_INIT;
	for (size_t i = 0; v->query[i]; i++)
		add_split(&query, v->query[i], '=');
	for (size_t i = 0; i < 6 && v->headers[i]; i++)
		add_split(&headers, v->headers[i], ':');
	char payload[65];
	smg_sha256_hex(v->body, strlen(v->body), payload);

	struct smg_sigv4_request r = {v->method, v->path, &query, &headers, payload, SUITE_DATE};
	struct smg_sigv4_result out = SMG_SIGV4_RESULT_INIT;
	smg_sigv4_compute(&creds, &r, &out);

	char what[200];
	snprintf(what, sizeof what, "%s: canonical request", v->name);
	check_str(what, out.canonical_request.data, v->creq);
	snprintf(what, sizeof what, "%s: string to sign", v->name);
	check_str(what, out.string_to_sign.data, v->sts);
	snprintf(what, sizeof what, "%s: authorization", v->name);
	check_str(what, out.authorization.data, v->auth);

	smg_sigv4_result_free(&out);
	smg_kv_free(&query);
	smg_kv_free(&headers);
}

/* docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html,
 * "Example: GET Object". */
#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_CREQ "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n" \
	"x-amz-content-sha256:" SMG_SHA256_EMPTY "\nx-amz-date:20130524T000000Z\n\n" \
	"host;range;x-amz-content-sha256;x-amz-date\n" SMG_SHA256_EMPTY
#define S3_STS "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n" \
	"7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
#define S3_SIG "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
#define S3_AUTH "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " \
	"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=" S3_SIG

static void s3_get_object_example(void)
{
	static const struct smg_sigv4_creds creds = {"AKIAIOSFODNN7EXAMPLE", S3_SECRET, NULL,
		"us-east-1", "s3"};
	struct smg_kvlist h = SMG_KVLIST_INIT;
	smg_kv_add(&h, "Host", "examplebucket.s3.amazonaws.com");
	smg_kv_add(&h, "Range", "bytes=0-9");
	smg_kv_add(&h, "x-amz-content-sha256", SMG_SHA256_EMPTY);
	smg_kv_add(&h, "x-amz-date", "20130524T000000Z");
	struct smg_sigv4_request r = {"GET", "/test.txt", NULL, &h, SMG_SHA256_EMPTY, "20130524T000000Z"};
	struct smg_sigv4_result out = SMG_SIGV4_RESULT_INIT;
	smg_sigv4_compute(&creds, &r, &out);
	check_str("s3 GET Object example: canonical request", out.canonical_request.data, S3_CREQ);
	check_str("s3 GET Object example: string to sign", out.string_to_sign.data, S3_STS);
	check_str("s3 GET Object example: signature", out.signature, S3_SIG);
	smg_sigv4_result_free(&out);
	smg_kv_free(&h);
}

/* The everyday call adds X-Amz-Date and X-Amz-Content-Sha256 itself and
 * must land on the same signature; 1369353600 is 2013-05-24T00:00:00Z. */
static void s3_example_through_sign(void)
{
	static const struct smg_sigv4_creds creds = {"AKIAIOSFODNN7EXAMPLE", S3_SECRET, NULL,
		"us-east-1", "s3"};
	struct smg_kvlist h = SMG_KVLIST_INIT;
	smg_kv_add(&h, "Host", "examplebucket.s3.amazonaws.com");
	smg_kv_add(&h, "Range", "bytes=0-9");
	smg_sigv4_sign(&creds, "GET", "/test.txt", NULL, &h, SMG_SHA256_EMPTY, 1369353600);
	check_str("smg_sigv4_sign: X-Amz-Date", smg_kv_get(&h, "x-amz-date"), "20130524T000000Z");
	check_str("smg_sigv4_sign: Authorization", smg_kv_get(&h, "authorization"), S3_AUTH);
	/* Signing again (a retry) replaces, never duplicates, the headers. */
	smg_sigv4_sign(&creds, "GET", "/test.txt", NULL, &h, SMG_SHA256_EMPTY, 1369353600);
	check_long("smg_sigv4_sign twice: same header count", (long)h.n, 5);
	check_str("smg_sigv4_sign twice: same Authorization", smg_kv_get(&h, "authorization"), S3_AUTH);
	smg_kv_free(&h);
}

static void session_token_is_signed(void)
{
	static const struct smg_sigv4_creds creds = {"AKIDEXAMPLE",
		"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "TOKEN", "us-east-1", "s3"};
	struct smg_kvlist h = SMG_KVLIST_INIT;
	smg_kv_add(&h, "Host", "b.s3.amazonaws.com");
	smg_sigv4_sign(&creds, "PUT", "/k", NULL, &h, SMG_SIGV4_UNSIGNED_PAYLOAD, 0);
	check_str("session token header", smg_kv_get(&h, "X-Amz-Security-Token"), "TOKEN");
	const char *auth = smg_kv_get(&h, "Authorization");
	check_long("session token is a signed header",
		   auth && strstr(auth, "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,") != NULL, 1);
	smg_kv_free(&h);
}

static void encoding(void)
{
	struct smg_buf b = SMG_BUF_INIT;
	smg_uri_encode(&b, "/dir/a b+c%d~e\xc3\xa9.db", true);
	check_str("path encoding keeps '/', encodes '+', '%', space, UTF-8", b.data,
		  "/dir/a%20b%2Bc%25d~e%C3%A9.db");
	smg_buf_reset(&b);
	smg_uri_encode(&b, "a/b=c&d", false);
	check_str("query encoding encodes '/', '=', '&'", b.data, "a%2Fb%3Dc%26d");

	struct smg_kvlist q = SMG_KVLIST_INIT;
	smg_kv_add(&q, "prefix", "snap shots/");
	smg_kv_add(&q, "list-type", "2");
	smg_kv_add(&q, "continuation-token", "1/2+3=");
	smg_buf_reset(&b);
	smg_sigv4_canonical_query(&b, &q);
	check_str("canonical query sorted and encoded", b.data,
		  "continuation-token=1%2F2%2B3%3D&list-type=2&prefix=snap%20shots%2F");
	smg_kv_free(&q);
	smg_buf_free(&b);

	char date[17];
	smg_sigv4_amz_date(1440938160, date);
	check_str("amz date", date, SUITE_DATE);
}

int main(void)
{
	for (size_t i = 0; i < sizeof suite / sizeof suite[0]; i++)
		run_vector(&suite[i]);
	s3_get_object_example();
	s3_example_through_sign();
	session_token_is_signed();
	encoding();
	return failures ? 1 : 0;
}
