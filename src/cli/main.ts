// Placeholder entry; the real CLI lands with the pipeline.
console.log('airlock');
