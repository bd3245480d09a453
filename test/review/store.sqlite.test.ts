// Runs the review store conformance suite on SQLite (a database file in its own temp folder per test).
import { reviewStoreConformance } from './store.conformance.ts';

reviewStoreConformance('SQLite');
