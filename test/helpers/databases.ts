import { randomUUID } from 'node:crypto'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { onTestFinished } from 'vitest'

export const postgresUrl = process.env.COLDPIPE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const mysqlUrl = process.env.COLDPIPE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'

/** A Postgres schema of its own for one test, dropped afterwards; returns a connected client and the schema. */
export async function postgresSchema(): Promise<{ client: pg.Client; schema: string; url: string }> {
  const schema = `t_${randomUUID().replace(/-/g, '').slice(0, 12)}`
  const client = new pg.Client(postgresUrl)
  await client.connect()
  await client.query(`CREATE SCHEMA ${schema}`)
  onTestFinished(async () => {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await client.end()
  })
  return { client, schema, url: postgresUrl }
}

/** A MariaDB database of its own for one test, dropped afterwards. */
export async function mysqlDatabase(): Promise<{ connection: mysql.Connection; database: string; url: string }> {
  const database = `t_${randomUUID().replace(/-/g, '').slice(0, 12)}`
  const connection = await mysql.createConnection({ uri: mysqlUrl, multipleStatements: true })
  await connection.query(`CREATE DATABASE ${database}`)
  onTestFinished(async () => {
    await connection.query(`DROP DATABASE IF EXISTS ${database}`)
    await connection.end()
  })
  return { connection, database, url: mysqlUrl.replace(/\/[^/]*$/, `/${database}`) }
}
