// Fails fast with a clear message when Jest is run directly instead of through `npm test`.
module.exports = async () => {
  if (!process.env.TEST_MONGODB_URI || !process.env.TEST_REDIS_URL) {
    throw new Error('Run the tests with `npm test` (it starts a throwaway FerretDB and Redis for them).');
  }
};
