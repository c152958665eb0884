/* test_static.c: which paths below /static/ may be served */
#include "http.h"
#include "test.h"

int main(void)
{
    CHECK(http_static_path_ok("app.css"));
    CHECK(http_static_path_ok("img/logo.svg"));
    CHECK(http_static_path_ok("upload.js"));
    CHECK(!http_static_path_ok(""));
    CHECK(!http_static_path_ok(".."));
    CHECK(!http_static_path_ok("../etc/passwd"));
    CHECK(!http_static_path_ok("img/../../x"));
    CHECK(!http_static_path_ok("img/.."));
    CHECK(!http_static_path_ok(".hidden"));
    CHECK(!http_static_path_ok("img//x.css"));
    CHECK(!http_static_path_ok("/etc/passwd"));
    CHECK(!http_static_path_ok("img/"));
    CHECK(!http_static_path_ok("a%2e%2e"));      /* %00 and other escapes stay literal */
    CHECK(!http_static_path_ok("app.css%00.txt"));
    CHECK(!http_static_path_ok("a\\..\\b"));
    CHECK(!http_static_path_ok("a b.css"));
    CHECK(!http_static_path_ok("a\nb"));
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK(!http_static_path_ok(longname));
    TEST_DONE();
}
