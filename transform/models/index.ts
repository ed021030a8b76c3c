export { loadModels, modelReferences, orderModels, type ModelDefinition } from './model-graph.ts'
