// Starts Swagger UI (served from the swagger-ui-dist npm package) on /api/v1/docs. No inline script: the
// page's Content-Security-Policy allows this site's own files only.
const me = document.currentScript;
window.SwaggerUIBundle({
  url: me.dataset.openapi,
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null, // no calls to validator.swagger.io
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
