// The API documentation page: Swagger UI from the installed swagger-ui-bundle, pointed at our schema.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
