import { expect } from 'chai';
import { createMetrics, primeHttpRoute } from './metrics.ts';

describe('HTTP metrics', () => {
  it('registers a route’s counters and its duration histogram at zero before any request', async () => {
    const { registry, http } = createMetrics();
    primeHttpRoute(http, 'GET', '/v1/things/:id');
    const text = await registry.metrics();
    for (const c of ['2xx', '3xx', '4xx', '5xx'])
      expect(text).to.contain(
        `parley_http_requests_total{method="GET",route="/v1/things/:id",status_class="${c}"} 0`,
      );
    expect(text).to.contain(
      'parley_http_request_duration_seconds_count{method="GET",route="/v1/things/:id"} 0',
    );
  });
});
