/*
 * web_assets.S - the web UI files, embedded into the binary with .incbin.
 *
 * Each file becomes web_asset_<name> .. web_asset_<name>_end in .rodata;
 * web_http.c serves them.  The paths are relative to the project root,
 * where the Makefile runs the compiler; webui/module.mk lists the same
 * files as prerequisites of this object so an edit rebuilds it.
 * Checklist: a new asset is added here, in webui/module.mk (WEB_ASSETS)
 * and in the web_assets[] table of web_http.c.
 */
#define WEB_ASSET(sym, file)            \
    .global sym;                        \
    .type sym, @object;                 \
    .balign 16;                         \
sym:                                    \
    .incbin file;                       \
    .global sym##_end;                  \
sym##_end:                              \
    .byte 0

    .section .rodata
WEB_ASSET(web_asset_index_html, "webui/static/index.html")
WEB_ASSET(web_asset_app_js, "webui/static/app.js")
WEB_ASSET(web_asset_app_css, "webui/static/app.css")
WEB_ASSET(web_asset_routing_js, "webui/static/routing.js")
WEB_ASSET(web_asset_page_dashboard_js, "webui/static/page_dashboard.js")
WEB_ASSET(web_asset_page_connectors_js, "webui/static/page_connectors.js")
WEB_ASSET(web_asset_page_messages_js, "webui/static/page_messages.js")
WEB_ASSET(web_asset_page_trace_js, "webui/static/page_trace.js")
WEB_ASSET(web_asset_page_params_js, "webui/static/page_params.js")
WEB_ASSET(web_asset_page_accounts_js, "webui/static/page_accounts.js")
WEB_ASSET(web_asset_page_users_js, "webui/static/page_users.js")
WEB_ASSET(web_asset_page_system_js, "webui/static/page_system.js")
WEB_ASSET(web_asset_page_rule_form_js, "webui/static/page_rule_form.js")
WEB_ASSET(web_asset_page_dryrun_js, "webui/static/page_dryrun.js")
WEB_ASSET(web_asset_page_rates_js, "webui/static/page_rates.js")

    .section .note.GNU-stack,"",@progbits
