/**
 * One fixed fast-check seed for every property in every suite, so a CI failure can be replayed: fast-check prints
 * the seed (and the path) when a property fails. `PROPERTY_SEED` overrides it; a property that passes its own
 * `seed` keeps it.
 */
import { FastCheck as fc } from "effect"

fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: Number(process.env["PROPERTY_SEED"] ?? 20261201) })
