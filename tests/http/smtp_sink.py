#!/usr/bin/env python3
# tests/http/smtp_sink.py: a real SMTP server for the tests (Debian's python3-aiosmtpd):
# listens on 127.0.0.1:PORT (0: any free port), prints "smtp listening on PORT", and saves
# each message it accepts as DIR/<ns>-<n>.json {from, to, data, auth_user}.
#   --auth USER:PASSWORD   require AUTH (LOGIN/PLAIN) with these credentials
#   --tls CERT KEY         offer STARTTLS with this certificate (and require it)
import argparse, asyncio, json, os, ssl, sys, time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, out):
        self.out = out
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        rec = {
            'from': envelope.mail_from,
            'to': envelope.rcpt_tos,
            'data': envelope.original_content.decode('utf-8', 'replace'),
            'auth_user': session.auth_data if session.authenticated else None,
            'tls': session.ssl is not None,
        }
        tmp = os.path.join(self.out, '.tmp-%d' % self.n)
        with open(tmp, 'w') as f:
            json.dump(rec, f)
        os.rename(tmp, os.path.join(self.out, '%d-%06d.json' % (time.time_ns(), self.n)))
        return '250 OK'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--dir', required=True)
    ap.add_argument('--auth')
    ap.add_argument('--tls', nargs=2)
    a = ap.parse_args()
    handler = Sink(a.dir)
    kw = {}
    if a.auth:
        user, pw = a.auth.split(':', 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
                  and auth_data.password.decode() == pw)
            return AuthResult(success=ok, auth_data=user if ok else None)
        kw.update(authenticator=authenticator, auth_required=True)
    if a.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        kw.update(tls_context=ctx, require_starttls=True)
    elif a.auth:
        kw.update(auth_require_tls=False)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(
        lambda: SMTP(handler, hostname='smtp.test', **kw), host='127.0.0.1', port=a.port))
    port = server.sockets[0].getsockname()[1]
    print('smtp listening on %d' % port, flush=True)
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
