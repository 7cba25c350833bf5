// dli-admin page behaviour. Loaded with the CSP nonce; no inline scripts anywhere.
"use strict";
if (window.htmx) {
  htmx.config.allowEval = false; // keep 'unsafe-eval' out of the CSP
  htmx.config.includeIndicatorStyles = false; // htmx would inject an inline <style>
}
