// porgate's /docs: Swagger UI on the API's own generated document. A file, not an inline
// script, so a Content-Security-Policy of script-src 'self' still allows the page.
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
  });
};
