// Starts Swagger UI on the platform's own OpenAPI document (all assets are local files).
(function () {
  var spec = document.getElementById("api-docs-script").getAttribute("data-spec");
  window.ui = SwaggerUIBundle({ url: spec, dom_id: "#swagger-ui", deepLinking: true });
})();
