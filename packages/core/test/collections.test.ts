import { collections } from "./support/collections.js"

// the checklist of STYLE §12 for every collection, from its spec (support/collectionSuite.ts)
for (const collection of collections) collection.suite()
