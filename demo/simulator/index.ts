export { startShopSimulator, type ShopSimulator, type ShopSimulatorOptions } from './shop-simulator.ts'
export { defaultShopTopics, firstSimulatedItemId, firstSimulatedOrderId, ShopGenerator, type ShopMessage, type ShopTopics } from './shop-generator.ts'
