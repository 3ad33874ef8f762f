/** The operator's public surface: resource types, the pure planners and the CRD/RBAC objects. No I/O on import. */
export * from './meta.ts';
export * from './topic/types.ts';
export * from './topic/plan.ts';
export * from './autoscale/types.ts';
export * from './autoscale/observe.ts';
export * from './autoscale/policy.ts';
export * from './crds.ts';
export { operatorSettings, type OperatorConfig } from './config.ts';
