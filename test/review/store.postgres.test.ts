// Runs the review store conformance suite on PostgreSQL (a schema of its own per test, dropped after).
import { reviewStoreConformance } from './store.conformance.ts';

reviewStoreConformance('PostgreSQL');
