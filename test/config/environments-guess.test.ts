// The environment a mistyped or shortened name on the command line most likely means.
import { describe, expect, it } from 'vitest';
import { environmentGuess } from '../../src/config/environments.ts';

describe('environmentGuess', () => {
  const pipeline = ['staging', 'production'];
  it('completes a name that only one environment begins with', () => {
    expect(environmentGuess('prod', pipeline)).toBe('production');
    expect(environmentGuess('Stag', pipeline)).toBe('staging');
  });
  it('expands an abbreviation only one environment fits', () => {
    expect(environmentGuess('prd', pipeline)).toBe('production');
    expect(environmentGuess('stg', pipeline)).toBe('staging');
    expect(environmentGuess('pd', ['preview', 'production'])).toBe('production');
  });
  it('corrects a typo', () => {
    expect(environmentGuess('prodution', pipeline)).toBe('production');
    expect(environmentGuess('stagign', pipeline)).toBe('staging');
  });
  it('guesses nothing when no environment is close or several begin alike', () => {
    expect(environmentGuess('qa', pipeline)).toBeUndefined();
    expect(environmentGuess('pr', ['preview', 'production'])).toBeUndefined();
    expect(environmentGuess('', pipeline)).toBeUndefined();
  });
});
