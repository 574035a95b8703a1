// The API reference page (templates/api/reference.html): Swagger UI on our own OpenAPI document.
// A file, not an inline script, so the CSP stays default-src 'self'.
(function () {
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true,
    validatorUrl: null,           // Swagger's online validator would be a request elsewhere
    queryConfigEnabled: false,    // ?url= can't point the page at another document
    persistAuthorization: false,  // the token isn't kept in localStorage
    tryItOutEnabled: false
  });
})();
