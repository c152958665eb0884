/* test_sniff.c: the upload allowlist, libmagic sniffing, names and Content-Disposition */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "sniff.h"
#include "test.h"
#include "util.h"

static const unsigned char png_1x1[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0xc9, 0xfe, 0x92, 0xef, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
};

static sniff_result_t sb(const char *data, const char *name)
{
    sniff_result_t r;
    memset(&r, 0xAA, sizeof r);
    int rc = sniff_buffer(data, strlen(data), name, &r);
    CHECK_INT(rc, EV_OK);
    return r;
}

int main(void)
{
    sniff_result_t r;

    /* ---- pure classification ---- */
    sniff_classify("image/png", "a.png", &r);
    CHECK_INT(r.verdict, SNIFF_INLINE);
    CHECK_STR(r.mime, "image/png");
    CHECK_STR(r.preview, "image");
    CHECK(r.reason == NULL);
    sniff_classify("application/pdf", "x.pdf", &r);
    CHECK_INT(r.verdict, SNIFF_INLINE);
    CHECK_STR(r.preview, "pdf");
    sniff_classify("audio/x-wav", "a.wav", &r);
    CHECK_STR(r.mime, "audio/wav");
    CHECK_STR(r.preview, "audio");
    sniff_classify("video/mp4", "a.mp4", &r);
    CHECK_STR(r.preview, "video");
    /* a browser's audio-only WebM recording (recorder.js names it .weba) plays as audio */
    sniff_classify("video/webm", "discussion-recording.weba", &r);
    CHECK_STR(r.mime, "audio/webm");
    CHECK_STR(r.preview, "audio");
    sniff_classify("video/webm", "clip.webm", &r);
    CHECK_STR(r.mime, "video/webm");
    CHECK_STR(r.preview, "video");
    sniff_classify("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a.docx", &r);
    CHECK_INT(r.verdict, SNIFF_DOWNLOAD);
    CHECK(r.preview == NULL);
    sniff_classify("application/zip", "Report.DOCX", &r);
    CHECK_INT(r.verdict, SNIFF_DOWNLOAD);
    CHECK_STR(r.mime, "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    sniff_classify("application/zip", "archive.zip", &r);
    CHECK_INT(r.verdict, SNIFF_REFUSED);
    CHECK(r.reason != NULL);
    sniff_classify("text/x-c", "notes.txt", &r);
    CHECK_INT(r.verdict, SNIFF_DOWNLOAD);
    CHECK_STR(r.mime, "text/plain");
    sniff_classify("text/html", "a.txt", &r);
    CHECK_INT(r.verdict, SNIFF_REFUSED);
    CHECK(strstr(r.reason, "HTML") != NULL);
    CHECK_STR(r.mime, "");
    sniff_classify("image/svg+xml", "a.png", &r);
    CHECK_INT(r.verdict, SNIFF_REFUSED);
    sniff_classify("text/plain", "evil.js", &r);
    CHECK_INT(r.verdict, SNIFF_REFUSED);
    sniff_classify("text/plain", "x.SH", &r);
    CHECK_INT(r.verdict, SNIFF_REFUSED);
    sniff_classify("text/plain", "dir/evil.html", &r);
    CHECK_INT(r.verdict, SNIFF_REFUSED);
    sniff_classify("application/x-executable", "a.pdf", &r);
    CHECK_INT(r.verdict, SNIFF_REFUSED);
    sniff_classify("application/octet-stream", "a.bin", &r);
    CHECK_INT(r.verdict, SNIFF_REFUSED);
    sniff_classify("", "a.txt", &r);
    CHECK_INT(r.verdict, SNIFF_REFUSED);
    sniff_classify("image/tiff", "scan.tif", &r);
    CHECK_INT(r.verdict, SNIFF_DOWNLOAD);
    CHECK(r.preview == NULL);

    CHECK_STR(sniff_preview_kind("image/jpeg"), "image");
    CHECK_STR(sniff_preview_kind("application/pdf"), "pdf");
    CHECK(sniff_preview_kind("text/plain") == NULL);
    CHECK(sniff_preview_kind("image/tiff") == NULL);
    CHECK(sniff_preview_kind(NULL) == NULL);

    /* ---- real libmagic ---- */
    CHECK_INT(sniff_init(), EV_OK);
    r = sb("Today I helped a customer with a refund.\nIt went well.\n", "reflection.txt");
    CHECK_INT(r.verdict, SNIFF_DOWNLOAD);
    CHECK_STR(r.mime, "text/plain");
    r = sb("<!DOCTYPE html><html><head><title>x</title></head><body><script>alert(1)</script></body></html>\n",
           "page.txt");
    CHECK_INT(r.verdict, SNIFF_REFUSED);
    CHECK_STR(r.detected, "text/html");
    r = sb("<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"></svg>\n",
           "pic.png");
    CHECK_INT(r.verdict, SNIFF_REFUSED);
    r = sb("#!/bin/sh\nrm -rf /\n", "innocent.txt");
    CHECK_INT(r.verdict, SNIFF_REFUSED);
    r = sb("%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n", "doc.pdf");
    CHECK_INT(r.verdict, SNIFF_INLINE);
    CHECK_STR(r.mime, "application/pdf");
    r = sb("name,score\nann,3\nbob,4\ncat,5\n", "scores.csv");
    CHECK_INT(r.verdict, SNIFF_DOWNLOAD);
    CHECK(strcmp(r.mime, "text/csv") == 0 || strcmp(r.mime, "text/plain") == 0);
    CHECK_INT(sniff_buffer("", 0, "empty.txt", &r), EV_OK);
    CHECK_INT(r.verdict, SNIFF_REFUSED);
    CHECK(strstr(r.reason, "empty") != NULL);

    /* a real PNG on disk, via magic_file; the name does not decide the type */
    char path[] = "/tmp/test_sniff_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_INT(write(fd, png_1x1, sizeof png_1x1), (long long)sizeof png_1x1);
    close(fd);
    CHECK_INT(sniff_file(path, "photo.jpg", &r), EV_OK);
    CHECK_INT(r.verdict, SNIFF_INLINE);
    CHECK_STR(r.mime, "image/png");
    CHECK_STR(r.detected, "image/png");
    unlink(path);
    /* a file that does not exist: libmagic's failure, not a verdict */
    CHECK_INT(sniff_file("/nonexistent/evitrack-sniff", "x.txt", &r), EV_ERR);

    /* ---- names ---- */
    char *n = sniff_clean_name("C:\\Users\\me\\My report.docx");
    CHECK_STR(n, "My report.docx");
    free(n);
    n = sniff_clean_name("../../etc/passwd");
    CHECK_STR(n, "passwd");
    free(n);
    n = sniff_clean_name("..");
    CHECK_STR(n, "file");
    free(n);
    n = sniff_clean_name("");
    CHECK_STR(n, "file");
    free(n);
    n = sniff_clean_name(NULL);
    CHECK_STR(n, "file");
    free(n);
    n = sniff_clean_name("a\r\nb\"c.txt");
    CHECK_STR(n, "a__b'c.txt");
    free(n);
    n = sniff_clean_name("bad\xff\xfe.txt");
    CHECK_STR(n, "bad__.txt");
    free(n);
    n = sniff_clean_name("caf\xc3\xa9 \xe2\x82\xac.pdf");
    CHECK_STR(n, "caf\xc3\xa9 \xe2\x82\xac.pdf");
    free(n);
    char longname[400];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    n = sniff_clean_name(longname);
    CHECK_INT(strlen(n), 200);
    free(n);
    /* truncation never splits a UTF-8 character */
    char euros[400] = "";
    for (int i = 0; i < 100; i++)
        strcat(euros, "\xe2\x82\xac");
    n = sniff_clean_name(euros);
    CHECK_INT(strlen(n), 198);
    free(n);

    /* ---- Content-Disposition ---- */
    char *cd = sniff_content_disposition("report.pdf", 1);
    CHECK_STR(cd, "inline; filename=\"report.pdf\"; filename*=UTF-8''report.pdf");
    free(cd);
    cd = sniff_content_disposition("caf\xc3\xa9 \"menu\"; 100%.docx", 0);
    CHECK_STR(cd, "attachment; filename=\"caf_ 'menu'; 100_.docx\"; "
                  "filename*=UTF-8''caf%C3%A9%20%27menu%27%3B%20100%25.docx");
    free(cd);
    cd = sniff_content_disposition("x\\y.txt", 0);
    CHECK_STR(cd, "attachment; filename=\"y.txt\"; filename*=UTF-8''y.txt");
    free(cd);

    sniff_cleanup();
    /* ---- names longer than the limit keep their extension ---- */
    {
        char long_docx[300];
        memset(long_docx, 'x', 226);
        strcpy(long_docx + 226, ".docx"); /* 231 bytes */
        char *c = sniff_clean_name(long_docx);
        CHECK_INT(strlen(c), 200);
        CHECK(strcmp(c + 195, ".docx") == 0);
        free(c);
        c = sniff_shorten_name("a very long report name.pdf", 12);
        CHECK_STR(c, "a very l.pdf");
        free(c);
        c = sniff_shorten_name("report name   .jpeg", 14);
        CHECK_STR(c, "report na.jpeg");
        free(c);
        c = sniff_shorten_name("short.txt", 80);
        CHECK_STR(c, "short.txt");
        free(c);
        /* a cut never splits a UTF-8 character: "é" is two bytes */
        c = sniff_shorten_name("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9.docx", 12);
        CHECK_STR(c, "\xc3\xa9\xc3\xa9\xc3\xa9.docx");
        free(c);
        /* no extension: the name is simply cut */
        c = sniff_shorten_name("abcdefghijklmnop", 10);
        CHECK_STR(c, "abcdefghij");
        free(c);
    }

    /* ---- emails are accepted as attachments; refusals say what to do ---- */
    sniff_classify("message/rfc822", "witness_email.eml", &r);
    CHECK_INT(r.verdict, SNIFF_DOWNLOAD);
    CHECK_STR(r.mime, "message/rfc822");
    sniff_classify("application/vnd.ms-outlook", "witness.msg", &r);
    CHECK_INT(r.verdict, SNIFF_DOWNLOAD);
    CHECK_STR(r.mime, "application/vnd.ms-outlook");
    sniff_classify("application/CDFV2", "witness.msg", &r);
    CHECK_INT(r.verdict, SNIFF_DOWNLOAD);
    sniff_classify("application/zip", "site_photos.zip", &r);
    CHECK_INT(r.verdict, SNIFF_REFUSED);
    CHECK(strstr(r.reason, "unzip it and upload the photos") != NULL);
    sniff_classify("application/zip", "Reflective account.pages", &r);
    CHECK_INT(r.verdict, SNIFF_REFUSED);
    CHECK(strstr(r.reason, "Export To > PDF") != NULL);
    sniff_classify("application/x-dosexec", "thing.bin", &r);
    CHECK(strstr(r.reason, "upload that") != NULL);

    /* ---- the real files of ../shared/evidence-examples ---- */
    {
        const char *dir = getenv("SHARED_DIR") ? getenv("SHARED_DIR") : "../../shared";
        static const struct {
            const char *file;
            int verdict;
            const char *mime_or_reason;
        } ex[] = {
            {"witness_email.eml", SNIFF_DOWNLOAD, "message/rfc822"},
            {"witness_email_outlook.msg", SNIFF_DOWNLOAD, "application/vnd.ms-outlook"},
            {"witness_statement.docx", SNIFF_DOWNLOAD,
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
            {"site_photos.zip", SNIFF_REFUSED, "unzip it"},
            {"Reflective account.pages", SNIFF_REFUSED, "Export To > PDF"},
        };
        for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
            char *ex_path = fmtalloc("%s/evidence-examples/%s", dir, ex[i].file);
            CHECK_INT(sniff_file(ex_path, ex[i].file, &r), EV_OK);
            CHECK_INT(r.verdict, ex[i].verdict);
            if (ex[i].verdict == SNIFF_REFUSED)
                CHECK(r.reason && strstr(r.reason, ex[i].mime_or_reason));
            else
                CHECK_STR(r.mime, ex[i].mime_or_reason);
            free(ex_path);
        }
    }

    TEST_DONE();
}
