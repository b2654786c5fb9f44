// Validates api/openapi.yaml against the OpenAPI 3.1 schema and resolves
// every $ref (make test-publishers). The Go contract test checks that the
// document matches the daemon; this checks that it is a valid document for
// the tools that read it (client generators, documentation renderers).
import SwaggerParser from '@apidevtools/swagger-parser';

const file = new URL('../../../api/openapi.yaml', import.meta.url).pathname;
try {
  const api = await SwaggerParser.validate(file);
  console.log(`api/openapi.yaml: valid OpenAPI ${api.openapi}, ${Object.keys(api.paths).length} paths`);
} catch (err) {
  console.error(`api/openapi.yaml: ${err.message}`);
  process.exit(1);
}
