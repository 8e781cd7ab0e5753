# webui/: the HTTP server (POST /mi, GET /metrics, the embedded web UI) and
# junctionctl, the command-line client of the MI.

JUNCTION_SRCS += webui/web_http.c webui/web_auth.c webui/web_api.c webui/web_kannel.c webui/web_tls.c webui/web_assets.S

CTL_SRCS += webui/junctionctl.c webui/ctl_net.c webui/ctl_print.c webui/ctl_trace.c webui/ctl_explain.c webui/ctl_users.c \
            webui/ctl_diagnose.c

# The embedded files: editing one rebuilds the object that .incbin's it.
# Checklist: a new asset goes here, in web_assets.S and in web_http.c.
WEB_ASSETS := webui/static/index.html webui/static/app.js webui/static/app.css \
              webui/static/routing.js \
              $(patsubst %,webui/static/page_%.js,dashboard connectors rule_form dryrun rates messages trace params accounts users system)
$(BUILD)/webui/web_assets.o: $(WEB_ASSETS)
